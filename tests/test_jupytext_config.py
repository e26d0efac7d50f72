"""notebooks/jupytext.toml keeps every notebook source byte-identical through the round trips JupyterLab makes."""

import json
import shutil

import pytest
from jupytext.cli import jupytext as jupytext_cli

from voltlib import paths

SOURCES = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.py"))


@pytest.fixture
def copy(tmp_path):
    """A copy of notebooks/ (sources and jupytext.toml) to convert in place."""
    shutil.copy(paths.NOTEBOOKS / "jupytext.toml", tmp_path)
    for src in SOURCES:
        shutil.copy(src, tmp_path)
    return tmp_path


def _jupytext(*args, cwd):
    """The jupytext command line, in this process (it finds the config file beside the notebook)."""
    jupytext_cli(["--quiet", *[str(cwd / a) if a.endswith((".py", ".ipynb")) else a for a in args]])


def test_text_to_text_is_byte_identical(copy):
    for src in SOURCES:
        _jupytext("--to", "py:percent", "--output", "again.py", src.name, cwd=copy)
        assert (copy / "again.py").read_bytes() == src.read_bytes(), src.name


def test_through_a_notebook_that_jupyterlab_touched_is_byte_identical(copy):
    for src in SOURCES:
        nb_file = copy / f"{src.stem}.ipynb"
        _jupytext("--to", "ipynb", src.name, cwd=copy)
        nb = json.loads(nb_file.read_text())
        # what a lab session adds: the kernel's language, widget state, cell ids and display flags
        nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.2"}
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        for k, cell in enumerate(nb["cells"]):
            cell["id"] = f"cell-{k}"
            cell["metadata"].update(
                {
                    "collapsed": True,
                    "scrolled": True,
                    "trusted": True,
                    "jupyter": {"source_hidden": True, "outputs_hidden": True},
                    "execution": {"iopub.status.busy": "2026-01-01T00:00:00Z"},
                }
            )
        nb_file.write_text(json.dumps(nb))
        (copy / src.name).unlink()
        _jupytext("--to", "py:percent", nb_file.name, cwd=copy)
        assert (copy / src.name).read_bytes() == src.read_bytes(), src.name


def test_a_tag_added_in_the_lab_reaches_the_source(copy):
    # the filter keeps tags: a person's edit must still be saved
    src = SOURCES[0]
    _jupytext("--to", "ipynb", src.name, cwd=copy)
    nb = json.loads((copy / f"{src.stem}.ipynb").read_text())
    nb["cells"][-1]["metadata"]["tags"] = ["remove-cell"]
    (copy / f"{src.stem}.ipynb").write_text(json.dumps(nb))
    _jupytext("--to", "py:percent", f"{src.stem}.ipynb", cwd=copy)
    assert 'tags=["remove-cell"]' in (copy / src.name).read_text()
