"""The nbval replay catches a changed number: a planted change in a stored notebook must fail it."""
import shutil

import nbformat
import pytest

from voltlib import golden, paths

SUBSET_MARKER = "split_pct"   # 00_abstract's method cell: its text depends on the config only


def _subset(tmp_path, plant: bool):
    """A copy of the stored abstract cut to its parameters, imports and method cells, maybe planted."""
    src = paths.GOLDEN / "00_abstract.ipynb"
    if not src.exists():
        pytest.skip("tests/golden/00_abstract.ipynb is absent: run `make golden`")
    nb = nbformat.read(str(src), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    method = next(c for c in code if SUBSET_MARKER in c.source)
    nb.cells = code[:3] + [method]   # parameters, injected parameters, imports and loading, method
    if plant:
        text = method.outputs[0]["data"]["text/markdown"]
        assert "150 samples" in text, "the method cell no longer states the window length"
        method.outputs[0]["data"]["text/markdown"] = text.replace("150 samples", "151 samples")
    for helper in ("conftest.py", "sanitize.cfg"):
        shutil.copy(paths.GOLDEN / helper, tmp_path / helper)
    out = tmp_path / ("planted.ipynb" if plant else "unchanged.ipynb")
    nbformat.write(nb, str(out))
    return out


@pytest.mark.slow
def test_nbval_passes_the_stored_outputs_and_fails_a_planted_change(tmp_path):
    ok = golden.run_nbval([_subset(tmp_path, plant=False)], sanitize=tmp_path / "sanitize.cfg", capture=True)
    assert ok.returncode == 0, ok.stdout[-3000:]
    bad = golden.run_nbval([_subset(tmp_path, plant=True)], sanitize=tmp_path / "sanitize.cfg", capture=True)
    assert bad.returncode != 0, "nbval accepted a stored output that differs from a fresh run"
    assert "151 samples" in bad.stdout and "150 samples" in bad.stdout
