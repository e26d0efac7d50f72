"""The build's incremental rule, its atomic execution, its error message and its timings."""
import json
import re
from pathlib import Path

import pytest

from voltlib import paths, pipeline

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3.11 (voltlib)\n#     language: python\n#     name: voltlib\n# ---\n"


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(HEADER + '\n# %% tags=["parameters"]\nprofile = "smoke"\n\n' + body)
    return path


@pytest.fixture
def project(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _write(nbs, "01_first.py", "# %%\nprint('first', profile)\n")
    _write(nbs, "02_second.py", "# %%\nx = 2\n\n# %%\nprint('second', x)\n")
    _write(nbs, "00_abstract.py", "# %% [markdown]\n# # Title\n")
    return nbs, tmp_path / "build", tmp_path / "results"


def _stamps(nbs, build, lib="lib-v1"):
    return {s.name: s.stamp for s in pipeline.plan("smoke", nbs, build, lib_hash=lib)}


def test_run_order_puts_the_abstract_last_and_report_order_first(project):
    nbs, _, _ = project
    assert [p.stem for p in pipeline.discover(nbs)] == ["01_first", "02_second", "00_abstract"]
    assert [p.stem for p in pipeline.report_order(pipeline.discover(nbs))] == ["00_abstract", "01_first", "02_second"]


def test_stamps_are_stable_and_a_change_invalidates_that_notebook_and_the_ones_after(project):
    nbs, build, _ = project
    before = _stamps(nbs, build)
    assert before == _stamps(nbs, build)
    (nbs / "02_second.py").write_text((nbs / "02_second.py").read_text() + "\n# %%\ny = 3\n")
    after = _stamps(nbs, build)
    assert after["01_first"] == before["01_first"]
    assert after["02_second"] != before["02_second"]
    assert after["00_abstract"] != before["00_abstract"]   # it runs after 02 and reads its results
    changed_lib = _stamps(nbs, build, lib="lib-v2")
    assert all(changed_lib[k] != after[k] for k in after)
    other_profile = {s.name: s.stamp for s in pipeline.plan("quick", nbs, build, lib_hash="lib-v1")}
    assert all(other_profile[k] != after[k] for k in after)   # another profile is another build


def test_library_hash_follows_voltlib_sources(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    h1 = pipeline.library_hash(tmp_path, extra=())
    (tmp_path / "a.py").write_text("x = 2\n")
    assert pipeline.library_hash(tmp_path, extra=()) != h1


def test_library_hash_ignores_build_only_modules(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "report.py").write_text("y = 1\n")
    h1 = pipeline.library_hash(tmp_path, extra=())
    (tmp_path / "report.py").write_text("y = 2\n")
    assert pipeline.library_hash(tmp_path, extra=()) == h1


def test_no_notebook_imports_a_build_only_module():
    # if one did, editing that module would have to re-execute it, and the hash would miss that
    build_only = {m.removesuffix(".py") for m in pipeline.BUILD_ONLY}
    for nb in sorted(paths.NOTEBOOKS.glob("*.py")):
        for line in nb.read_text().splitlines():
            imported = set(re.findall(r"voltlib\.(\w+)", line))
            if line.startswith("from voltlib import"):
                imported |= {w.strip() for w in line.split("import", 1)[1].split("#")[0].split(",")}
            assert not imported & build_only, (nb.name, line)


def test_build_runs_then_is_up_to_date_and_records_timings(project):
    nbs, build, results = project
    lines = []
    pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t))
    assert (build / "01_first.ipynb").exists() and (build / "01_first.stamp.json").exists()
    executed = json.loads((build / "01_first.ipynb").read_text())
    assert "first smoke" in json.dumps(executed)
    first = json.loads((results / "timings.json").read_text())
    assert set(first["notebooks"]) == {"01_first", "02_second", "00_abstract"}
    assert not any(v["cached"] for v in first["notebooks"].values())
    assert first["executed_s"] > 0
    lines.clear()
    pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t))
    assert lines == ["[1/3] 01_first ... up to date", "[2/3] 02_second ... up to date",
                     "[3/3] 00_abstract ... up to date"]
    second = json.loads((results / "timings.json").read_text())
    assert all(v["cached"] for v in second["notebooks"].values()) and second["executed_s"] == 0
    assert second["notebooks"]["01_first"]["seconds"] == first["notebooks"]["01_first"]["seconds"]


def test_a_failing_notebook_stops_the_build_names_the_cell_and_leaves_no_executed_copy(project):
    nbs, build, results = project
    _write(nbs, "02_second.py", "# %%\nx = 2\n\n# %%\nraise ValueError('planted failure')\n")
    build.mkdir(parents=True)
    # a stale executed copy and stamp from an earlier, different source must not survive
    (build / "02_second.ipynb").write_text("{}")
    (build / "02_second.stamp.json").write_text('{"stamp": "old"}')
    with pytest.raises(pipeline.NotebookFailed) as err:
        pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": None)
    message = str(err.value)
    assert "02_second.py" in message and "code cell 3" in message
    assert "raise ValueError('planted failure')" in message and "ValueError: planted failure" in message
    assert not (build / "02_second.ipynb").exists() and not (build / "02_second.stamp.json").exists()
    assert (build / "02_second.failed.ipynb").exists()
    assert not (build / "00_abstract.ipynb").exists()          # the build stopped there
    assert not list(build.glob(".*"))                          # no temporary files left behind
    assert (build / "01_first.ipynb").exists()                 # earlier work is kept


def test_build_before_a_notebook_runs_only_the_ones_ahead_of_it(project):
    nbs, build, results = project
    lines = []
    pipeline.build("smoke", nbs, build, results, lib_hash="lib", progress=lambda t, end="\n": lines.append(t),
                   before="02_second")
    assert (build / "01_first.ipynb").exists()
    assert not (build / "02_second.ipynb").exists() and not (build / "00_abstract.ipynb").exists()
    assert set(json.loads((results / "timings.json").read_text())["notebooks"]) == {"01_first"}
    with pytest.raises(ValueError, match="before='03_missing' is not a notebook"):
        pipeline.build("smoke", nbs, build, results, lib_hash="lib", before="03_missing")
