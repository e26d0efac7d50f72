"""A notebook started before its inputs exist stops with one sentence naming the command; the table matches the build."""

import json
import re

import pytest

from voltlib import paths
from voltlib.paper import inputs
from voltlib.workflow import pipeline


def _write_all_but(folder, skip=None):
    """Writes every result of inputs.WRITES except the entry `skip` (a tuple of the table)."""
    for entries in inputs.WRITES.values():
        for file, *keys in entries:
            if (file, *keys) == skip:
                continue
            f = folder / file
            data = json.loads(f.read_text()) if f.exists() else {}
            node = data
            for k in keys:
                node = node.setdefault(k, {})
            f.write_text(json.dumps(data))


def test_table_names_every_notebook_in_run_order():
    assert list(inputs.WRITES) + [inputs.LAST] == [p.stem for p in pipeline.discover()]


def test_every_notebook_after_the_first_checks_its_inputs_in_its_setup_cell():
    for nb in pipeline.discover():
        call = f'require_inputs(profile, "{nb.stem}")'
        if nb.stem == next(iter(inputs.WRITES)):
            assert call not in nb.read_text()  # the first notebook reads nothing
            continue
        cells = nb.read_text().split("# %%")
        params = next(i for i, c in enumerate(cells) if 'tags=["parameters"]' in c)
        assert call in cells[params + 1], f"{nb.name}: its setup cell (the one after the parameters) should call {call}"


def test_nothing_missing_when_every_earlier_notebook_wrote(tmp_path):
    _write_all_but(tmp_path)
    for name in list(inputs.WRITES) + [inputs.LAST]:
        inputs.require_inputs("smoke", name, tmp_path)


def test_first_notebook_needs_nothing(tmp_path):
    inputs.require_inputs("smoke", "01_simulate", tmp_path)


def test_missing_results_stop_with_one_sentence_naming_the_command(tmp_path):
    with pytest.raises(inputs.InputsMissing) as err:
        inputs.require_inputs("quick", "06_error_analysis", tmp_path)
    text = str(err.value)
    assert "`make report PROFILE=quick`" in text and "01-05" in text and "simulation.json" in text
    assert len(re.findall(r"[.!?](\s|$)", text)) == 1, text  # one sentence
    assert err.value._render_traceback_() == [f"InputsMissing: {text}"]


def test_a_missing_key_is_named(tmp_path):
    _write_all_but(tmp_path, skip=("ladder.json", "clean", "phase4_cnn_lstm"))
    inputs.require_inputs("smoke", "05_cnn_lstm", tmp_path)  # 05 writes it; it does not read it
    assert inputs.missing_inputs("smoke", "06_error_analysis", tmp_path) == ["ladder.json:clean.phase4_cnn_lstm"]
    with pytest.raises(inputs.InputsMissing, match=r"ladder\.json:clean\.phase4_cnn_lstm is missing"):
        inputs.require_inputs("smoke", "07_interpretability", tmp_path)


def test_a_half_written_file_counts_as_missing(tmp_path):
    _write_all_but(tmp_path)
    (tmp_path / "baselines.json").write_text('{"clean": ')
    assert inputs.missing_inputs("smoke", "03_baseline_lstm", tmp_path) == ["baselines.json"]


def test_unknown_notebook_is_an_error():
    with pytest.raises(ValueError, match="unknown notebook '08_new'.*voltlib.paper.inputs.WRITES"):
        inputs.earlier("08_new")


def test_default_folder_is_the_profile_results(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "RESULTS", tmp_path)
    with pytest.raises(inputs.InputsMissing, match=re.escape(str(tmp_path / "smoke"))):
        inputs.require_inputs("smoke", "02_dataset")


def test_fingerprints_see_only_what_the_notebooks_before_wrote(tmp_path):
    ladder = {
        p: {"phase1_lstm": 1, "phase2_large_lstm": 2, "phase3_lstm_res": 3, "phase4_cnn_lstm": 4}
        for p in ("original", "clean")
    }
    (tmp_path / "ladder.json").write_text(json.dumps(ladder))
    (tmp_path / "baselines.json").write_text('{"persistence": 0.6}')
    first = inputs.input_fingerprints("05_cnn_lstm", tmp_path)
    assert first["histories.json"] == "absent" and set(first) == {"baselines.json", "ladder.json", "histories.json"}
    ladder["clean"]["phase4_cnn_lstm"] = 40  # 05's own key: no input of 05
    (tmp_path / "ladder.json").write_text(json.dumps(ladder))
    assert inputs.input_fingerprints("05_cnn_lstm", tmp_path) == first
    own = inputs.part_fingerprints("05_cnn_lstm", tmp_path)["ladder.json"]
    ladder["clean"]["phase2_large_lstm"] = 20  # 04's: an input of 05, not 05's own part
    (tmp_path / "ladder.json").write_text(json.dumps(ladder))
    assert inputs.input_fingerprints("05_cnn_lstm", tmp_path)["ladder.json"] != first["ladder.json"]
    assert inputs.part_fingerprints("05_cnn_lstm", tmp_path)["ladder.json"] == own
    (tmp_path / "ladder.json").write_text('{"clean": ')  # half written
    assert inputs.input_fingerprints("05_cnn_lstm", tmp_path)["ladder.json"] == "absent"
    assert inputs.input_fingerprints("07_interpretability", tmp_path) == {}


def test_the_declaration_checks_find_a_planted_undeclared_read_write_and_key(tmp_path):
    assert inputs.undeclared_reads("06_error_analysis", ["baselines.json", "beyond.json"]) == ["beyond.json"]
    assert inputs.undeclared_writes("07_interpretability", ["analysis.json", "ceiling.json"]) == ["ceiling.json"]
    (tmp_path / "ceiling.json").write_text('{"anything": {"goes": 1}}')  # 06 writes it whole
    (tmp_path / "timings.json").write_text('{"total_s": 1}')
    (tmp_path / "analysis.json").write_text(
        json.dumps({"error_analysis": {"a": 1}, "findings": [1], "stray": {"x": 1, "y": {"z": 2}}})
    )
    (tmp_path / "notes.json").write_text("{}")
    assert inputs.uncovered_keys(tmp_path) == ["analysis.json:stray.x", "analysis.json:stray.y.z", "notes.json"]


def test_the_abstract_reads_what_the_summary_loads():
    from voltlib.paper import summary

    assert inputs.READS[inputs.LAST] == [f"{name}.json" for name in summary.RESULT_FILES]
    for name, files in inputs.READS.items():
        assert set(files) <= {f for entries in inputs.WRITES.values() for f, *_ in entries} | {"timings.json"}, name


def test_a_rerun_that_moved_only_its_wall_times_changes_no_fingerprint(tmp_path):
    entry = {
        "r2": 0.61,
        "train_s": 12.5,
        "from_cache": False,
        "history": [{"epoch": 1, "val_loss": 0.4, "seconds": 3.0}],
    }
    (tmp_path / "ladder.json").write_text(json.dumps({p: {"phase1_lstm": entry} for p in ("original", "clean")}))
    first = inputs.input_fingerprints("04_lstm_ladder", tmp_path)["ladder.json"]
    rerun = {**entry, "train_s": 14.0, "from_cache": True, "history": [{"epoch": 1, "val_loss": 0.4, "seconds": 2.1}]}
    (tmp_path / "ladder.json").write_text(json.dumps({p: {"phase1_lstm": rerun} for p in ("original", "clean")}))
    assert inputs.input_fingerprints("04_lstm_ladder", tmp_path)["ladder.json"] == first
    moved = {**rerun, "history": [{"epoch": 1, "val_loss": 0.41, "seconds": 2.1}]}  # a number of the result
    (tmp_path / "ladder.json").write_text(json.dumps({p: {"phase1_lstm": moved} for p in ("original", "clean")}))
    assert inputs.input_fingerprints("04_lstm_ladder", tmp_path)["ladder.json"] != first
