"""A whole smoke report built on an external Dask cluster has the numbers of the same report built in-process.

The cluster is what a user starts in a second terminal (`dask scheduler`, `dask worker`, on loopback
only) and passes as `make report SCHEDULER=...`. Both builds train on one thread (the worker's, and
OMP_NUM_THREADS=1 in-process), so the same seeds give the same weights and every number agrees. Two
whole smoke builds take minutes: `make test-scheduler` runs this module (CI does, after `make test`).
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import BUILD_RESULTS, build_numbers, scratch_root

from voltlib import paths

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("VOLTLIB_TEST_SCHEDULER_REPORT") != "1",
        reason="two whole smoke builds (minutes): run by `make test-scheduler`",
    ),
]


def _build(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VOLTLIB_ROOT": str(root), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "voltlib.workflow.pipeline", "--profile", "smoke", *args],
        env=env,
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_a_report_on_an_external_scheduler_has_the_in_process_numbers(tmp_path, external_cluster):
    remote, local = scratch_root(tmp_path / "scheduler"), scratch_root(tmp_path / "in_process")
    done = _build(remote, "--scheduler", external_cluster)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"on the scheduler at {external_cluster}" in done.stdout
    done = _build(local, "--workers", "1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    timings = json.loads((remote / "results" / "smoke" / "timings.json").read_text())
    assert timings["fanout"]["fits_trained"] > 10 and timings["fanout"]["fits_failed"] == 0
    compared = 0
    for name in BUILD_RESULTS:
        a = build_numbers(json.loads((remote / "results" / "smoke" / f"{name}.json").read_text()))
        b = build_numbers(json.loads((local / "results" / "smoke" / f"{name}.json").read_text()))
        assert a.keys() == b.keys(), f"{name}.json: {sorted(a.keys() ^ b.keys())[:5]}"
        for k in a:
            same = math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a[k]) and math.isnan(b[k]))
            assert same, f"{name}.json{k}: {a[k]} on the scheduler, {b[k]} in-process"
        compared += len(a)
    assert compared > 1000
    assert (remote / "report" / "smoke" / "technical_report.html").is_file()
