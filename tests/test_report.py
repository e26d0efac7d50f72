"""The report's Methods chapter: METHODS.md rendered once, with stable anchors that citations link to."""

import nbformat
import pytest

from voltlib import paths, report

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
