"""Notebook 01 runs headless with papermill at the smoke profile and writes what the report reads."""

import json
import os

import pytest

from voltlib import paths

pytestmark = pytest.mark.slow


def test_01_simulate_runs_headless(tmp_path):
    import jupytext
    import papermill

    nb = jupytext.read(paths.NOTEBOOKS / "01_simulate.py")
    src = tmp_path / "01.ipynb"
    jupytext.write(nb, src)
    # the project's kernel, found through JUPYTER_PATH (the Makefile sets it; set it here too)
    os.environ.setdefault("JUPYTER_PATH", str(paths.ROOT / ".venv" / "share" / "jupyter"))
    papermill.execute_notebook(
        str(src),
        str(tmp_path / "out.ipynb"),
        parameters={"profile": "smoke"},
        kernel_name="voltlib",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    res = json.loads((paths.RESULTS / "smoke" / "simulation.json").read_text())
    assert res["n_runs"] == 4 and res["duration_s"] == 2.0
    assert 25 <= res["rate_hz"] <= 38 and 0.33 <= res["cv_isi"] <= 0.50
    assert res["v_sd_mv"] == pytest.approx(res["v_var_mv2"] ** 0.5)
    for name in ("simulation_raster.png", "simulation_rates_cv.png"):
        assert (paths.REPORT / "smoke" / "figures" / name).stat().st_size > 10_000
