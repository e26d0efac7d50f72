"""What a user does to a whole smoke build leaves its numbers alone: builds side by side, other layouts, Ctrl-C.

- Two builds of one root started together from an empty cache: the second waits for the first,
  saying so; both end with exit 0 and the numbers are the first's.
- WORKERS=1 (in-process, the kernel on every core) and WORKERS=3 give the default fan-out's numbers
  within 1e-6: every fit trains on train.FIT_THREADS threads wherever it runs.
- Ctrl-C (SIGINT to the build's process group, as a terminal sends it) at random moments: each stops
  the build within seconds with one line and no traceback, and the build then finished gives the
  same numbers.

Several whole smoke builds (many minutes): `make test-scheduler` runs this module (CI does).
VOLTLIB_TEST_STOPS sets how many Ctrl-Cs (default 5).
"""

import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import BUILD_RESULTS, build_numbers, scratch_root

from voltlib import paths

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("VOLTLIB_TEST_SCHEDULER_REPORT") != "1",
        reason="several whole smoke builds (minutes): run by `make test-scheduler`",
    ),
]

# the build's own environment, as a user's shell has it: no thread limits, no layout chosen
CLEAN = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "VOLTLIB_WORKERS")}


def _start(root: Path, *args: str) -> subprocess.Popen:
    """A smoke build of root in its own process group (a terminal's Ctrl-C goes to the whole group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "voltlib.workflow.pipeline", "--profile", "smoke", *args],
        env={**CLEAN, "VOLTLIB_ROOT": str(root)},
        cwd=paths.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, timeout=1800) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    return out, err


def _results(root: Path) -> dict:
    import json

    return {
        name: build_numbers(json.loads((root / "results" / "smoke" / f"{name}.json").read_text()))
        for name in BUILD_RESULTS
    }


def _assert_same(got: dict, ref: dict, what: str) -> int:
    compared = 0
    for name in BUILD_RESULTS:
        a, b = got[name], ref[name]
        assert a.keys() == b.keys(), f"{what}, {name}.json: {sorted(a.keys() ^ b.keys())[:5]}"
        for k in a:
            same = math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a[k]) and math.isnan(b[k]))
            assert same, f"{what}, {name}.json{k}: {a[k]}, the default build {b[k]}"
        compared += len(a)
    return compared


def _with_sim(folder: Path, reference: Path) -> Path:
    """A scratch root with the reference's simulation cache (deterministic; saves each build its minute)."""
    root = scratch_root(folder)
    if not (root / "data" / "sim").exists():
        shutil.copytree(reference / "data" / "sim", root / "data" / "sim")
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """Two default builds of one empty root started together: the second waits, both succeed."""
    root = scratch_root(tmp_path_factory.mktemp("side_by_side") / "root")
    first = _start(root)
    time.sleep(2)
    second = _start(root)
    (out1, _), (out2, _) = _finish(first), _finish(second)
    waited = [out for out in (out1, out2) if "another build of build/smoke is running" in out]
    assert len(waited) == 1, (out1[-2000:], out2[-2000:])
    assert "fan-out:" in out1 + out2 and (root / "report" / "smoke" / "technical_report.html").is_file()
    # the one that waited found everything done: nothing trained or run twice
    assert "fan-out" not in waited[0] and waited[0].count("up to date") >= 8, waited[0][-2000:]
    return root


def test_two_builds_side_by_side_end_well_with_the_numbers_of_one(reference):
    assert sum(len(v) for v in _results(reference).values()) > 1000


def test_the_declaration_names_what_each_notebook_read_and_wrote(reference):
    """voltlib.paper.inputs' WRITES and READS against the records of a whole smoke build."""
    import json

    from voltlib.paper import inputs

    results = reference / "results" / "smoke"
    checked = 0
    for stamp in sorted((reference / "build" / "smoke").glob("*.stamp.json")):
        name, record = stamp.name.removesuffix(".stamp.json"), json.loads(stamp.read_text())
        read = sorted(Path(f).name for f in record["read"])
        assert not inputs.undeclared_reads(name, read), (name, read)
        assert read == sorted(inputs.READS[name]), (name, read)  # exactly: one more would rerun it for nothing
        written = [
            Path(f).name
            for f in [*record["outputs"], *record["parts"]]
            if Path(f).parent.parent.name == "results" and not f.endswith(".sha256")
        ]
        assert not inputs.undeclared_writes(name, written), (name, written)
        checked += 1
    assert checked == len(inputs.READS)  # every notebook of the paper, the abstract included
    assert not inputs.uncovered_keys(results)


@pytest.mark.parametrize("workers", ["1", "3"])
def test_every_layout_gives_the_default_builds_numbers(reference, tmp_path, workers):
    root = _with_sim(tmp_path / f"workers{workers}", reference)
    _finish(_start(root, "--no-report", "--workers", workers))
    assert _assert_same(_results(root), _results(reference), f"WORKERS={workers}") > 1000


def test_ctrl_c_at_random_moments_stops_at_once_and_the_rebuild_has_the_same_numbers(reference, tmp_path):
    root = _with_sim(tmp_path / "stopped", reference)
    rng = random.Random(22)
    stops = int(os.environ.get("VOLTLIB_TEST_STOPS", "5"))
    for k in range(stops):
        proc = _start(root, "--no-report")
        time.sleep(rng.uniform(3, 30))
        if proc.poll() is not None:  # it finished before this stop
            break
        t0 = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        took = time.perf_counter() - t0
        assert proc.returncode == 128 + signal.SIGINT, (k, out[-2000:], err[-2000:])
        lines = [ln for ln in err.splitlines() if ln.strip()]
        quiet = len(lines) <= 3 and lines[-1].startswith("stopped by Ctrl-C (SIGINT)")
        if not quiet or "Traceback" in err or "Exception ignored" in err:  # the whole of it, not a repr cut short
            pytest.fail(f"stop {k} after {took:.1f} s printed {len(lines)} lines:\n{err}", pytrace=False)
        assert took < 30, f"stop {k}: {took:.0f} s to stop"
    _finish(_start(root, "--no-report"))
    assert _assert_same(_results(root), _results(reference), "after the stops") > 1000
