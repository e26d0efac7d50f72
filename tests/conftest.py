"""Fixtures several test modules share: a real Dask scheduler and worker, started as a user would."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


def _dask(*args, env):
    """Starts the `dask` command line of this environment in its own process group, quiet."""
    exe = os.path.join(os.path.dirname(sys.executable), "dask")
    return subprocess.Popen(
        [exe, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.fixture
def external_cluster(tmp_path):
    """`dask scheduler` and `dask worker` started as a user would in a second terminal, on loopback only."""
    file = tmp_path / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            ":0",
            "--scheduler-file",
            str(file),
            env=env,
        )
    ]
    try:
        for _ in range(300):
            if file.exists() and file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        procs.append(
            _dask(
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                env=env,
            )
        )
        yield address
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
