"""The nbval replay catches a changed number: a planted change in a stored notebook must fail it."""

import shutil

import nbformat
import pytest

from voltlib import paths
from voltlib.workflow import golden

SUBSET_MARKER = '"method_in_brief"'  # 00_abstract's method cell: its text depends on the config only


def _subset(tmp_path, plant: bool):
    """A copy of the stored abstract cut to its parameters, imports and method cells, maybe planted."""
    src = paths.GOLDEN / "00_abstract.ipynb"
    if not src.exists():
        pytest.skip("tests/golden/00_abstract.ipynb is absent: run `make golden`")
    nb = nbformat.read(str(src), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    method = next(c for c in code if SUBSET_MARKER in c.source)
    nb.cells = code[:3] + [method]  # parameters, injected parameters, imports and loading, method
    # the scratch root holds no results: the abstract's check for them would stop the cut notebook
    # before its method cell, and that check prints nothing that nbval compares
    code[2].source = code[2].source.replace('require_inputs(profile, "00_abstract")', "")
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


@pytest.mark.parametrize(
    "ref, test",
    [
        ("R^2 0.105 (E) and 0.62", "R^2 0.106 (E) and 0.62"),  # a rounding-boundary flip of the last digit
        ("-0.000", "0.000"),  # the sign of a printed zero
        ("<td>0.6123</td><td>21,459</td>", "<td>0.6124</td><td>21,459</td>"),
        ("skill 1.5e-05", "skill 1.6e-05"),  # one unit of the last printed digit
        ("rate 29.95123 Hz", "rate 29.96 Hz"),  # many digits: within RTOL
        ("R^2 0.105", "R^2 0.1050001"),  # the same value printed with more digits
    ],
)
def test_outputs_agree_tolerates_a_last_digit_flip(ref, test):
    assert golden.outputs_agree(ref, test)
    assert golden.ToleratedText(ref) == test and not golden.ToleratedText(ref) != test


@pytest.mark.parametrize(
    "ref, test",
    [
        ("150 samples", "151 samples"),  # integers must match exactly
        ("21,459 windows", "21,460 windows"),
        ("R^2 0.105", "R^2 0.108"),  # three units of the last digit: a real change
        ("R^2 0.105 of 0.6", "R^2 0.105 of 0.6 and 0.1"),  # a number more
        ("higher by 0.105", "lower by 0.105"),  # the words around the numbers
        ("0.61", "nan"),
    ],
)
def test_outputs_agree_catches_a_real_change(ref, test):
    assert not golden.outputs_agree(ref, test)
    assert golden.ToleratedText(ref) != test
