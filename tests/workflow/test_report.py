"""The report's Methods chapter: METHODS.md rendered once, with stable anchors that citations link to."""

import nbformat
import pytest

from voltlib import paths
from voltlib.workflow import report

METHODS_TEXT = """# Methods

Intro.

## 1. The network

| quantity | value |
| --- | --- |
| neurons | 100 |

## 2. The task

Text.
"""


def merged_with_methods(tmp_path, prose: str):
    """A merged notebook: a title, one markdown cell of prose, then the Methods chapter from METHODS_TEXT."""
    path = tmp_path / "METHODS.md"
    path.write_text(METHODS_TEXT)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# The title"),
        nbformat.v4.new_markdown_cell(prose),
        report.methods_cell(path),
    ]
    return nb


def test_methods_cell_is_the_file_itself_tagged(tmp_path):
    path = tmp_path / "METHODS.md"
    path.write_text(METHODS_TEXT)
    cell = report.methods_cell(path)
    assert cell.cell_type == "markdown" and cell.source == METHODS_TEXT
    assert cell.metadata["tags"] == [report.METHODS_TAG]


def test_methods_cell_without_the_file_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="git checkout -- METHODS.md"):
        report.methods_cell(tmp_path / "METHODS.md")


def test_methods_cell_needs_a_chapter_heading(tmp_path):
    path = tmp_path / "METHODS.md"
    path.write_text("## 1. A section without its chapter\n")
    with pytest.raises(ValueError, match="level-1 heading"):
        report.methods_cell(path)


def test_methods_sections_get_stable_anchors_in_the_body_and_the_contents(tmp_path):
    title, body, toc = report.body_and_toc(merged_with_methods(tmp_path, "## Methods\nAn earlier heading."))
    assert title == "The title"
    assert 'id="methods-section-1"' in body and 'id="methods-section-2"' in body
    assert 'href="#methods-section-1"' in toc and 'href="#methods-section-2"' in toc
    assert "<table" in body and "<td>100</td>" in body


def test_citations_link_to_their_section_but_not_in_code_or_to_missing_sections(tmp_path):
    prose = (
        "The task (Methods section 2) and the network (Methods sections 1-2); "
        "`METHODS.md section 2` is code; Methods section 9 does not exist."
    )
    _, body, _ = report.body_and_toc(merged_with_methods(tmp_path, prose))
    assert '<a href="#methods-section-2">Methods section 2</a>' in body
    assert '<a href="#methods-section-1">Methods sections 1-2</a>' in body
    assert "<code>METHODS.md section 2</code>" in body
    assert "Methods section 9 does not exist" in body and 'href="#methods-section-9"' not in body


def test_the_repository_methods_render_with_an_anchor_per_section(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), report.methods_cell(paths.METHODS)]
    _, body, toc = report.body_and_toc(nb)
    for k in range(1, 11):
        assert f'id="methods-section-{k}"' in body and f'href="#methods-section-{k}"' in toc
    assert body.count("<table") >= 5


def _figure_cell(fig_name: str, png: bytes):
    out = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    return nbformat.v4.new_code_cell(f'plots.save_figure(fig, profile, "{fig_name}");', outputs=[out])


def test_every_image_gets_an_alt_text_of_its_own_from_its_saved_figure(tmp_path, monkeypatch):
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from voltlib.paper.plots import style as plots

    monkeypatch.setattr(plots.paths, "figures_dir", lambda profile: tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set(title="voltage of neuron 3", xlabel="time (ms)", ylabel="v (mV)")
    png = plots.save_figure(fig, "smoke", "trace.png").read_bytes()
    plt.close(fig)
    data = base64.b64encode(png).decode()
    cells = [
        nbformat.v4.new_markdown_cell("## Spikes and voltages"),
        _figure_cell("trace.png", data),
        nbformat.v4.new_markdown_cell("## Elsewhere"),
        _figure_cell("not_saved.png", data),
    ]
    report.add_alt_texts(cells, tmp_path)
    alts = [c.outputs[0].metadata["image/png"]["alt"] for c in cells if c.cell_type == "code"]
    assert alts[0] == "Figure 1 (Spikes and voltages): voltage of neuron 3: v (mV) against time (ms)"
    assert alts[1] == "Figure 2 (Elsewhere)"  # no saved PNG to describe: still its own
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), *cells]
    _, body, _ = report.body_and_toc(nb)
    assert 'alt="Figure 1 (Spikes and voltages): voltage of neuron 3' in body
    assert "No description has been provided" not in body


def test_run_time_counts_every_training_seed_by_seed(tmp_path):
    import json

    (tmp_path / "timings.json").write_text(
        json.dumps(
            {"notebooks": {"01": {"seconds": 60}, "02": {"seconds": 30}}, "fanout": {"fits_trained": 1, "wall_s": 120}}
        )
    )
    ladder = {
        "clean": {
            "phase1_lstm": {"train_s": 60, "seeds": [0]},
            "phase4_cnn_lstm": {"train_s": 120, "seeds": [0, 1, 2]},
        },
        "original": {"phase4_cnn_lstm": {"train_s": 30, "seeds": [0, 1]}},
    }
    (tmp_path / "ladder.json").write_text(json.dumps(ladder))
    text = report.run_time(tmp_path)
    assert text.startswith("The notebooks ran for 1.5 min in all")
    assert "the fan-out trained 1 model in 2.0 min" in text
    # 3 models, 6 trainings: 60 + 3 x 120 + 2 x 30 = 480 s
    assert "the ladder's 3 models (6 trainings, counting each seed) took 8.0 min; a rebuild loads" in text
    assert report.run_time(tmp_path / "absent") == "not recorded"
