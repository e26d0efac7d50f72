"""voltlib.cli: every command's frame. A user's error, a full disk or a stop is one line and a non-zero exit;
a bug keeps its traceback; a stop is never swallowed (a second one, one in a gc callback, one while loading)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import start_pipeline  # `python -m voltlib.workflow.pipeline`, started as a user would

from voltlib import cli, paths, store


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, where every write fails with ENOSPC")
def test_a_full_disk_is_one_message_and_a_non_zero_exit(capsys):
    assert cli.run_cli(lambda argv: Path("/dev/full").write_text("x" * 10**6)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the disk is full (No space left on device). Free space (`make clean`")
    assert len(err.splitlines()) == 1


def test_a_bug_keeps_its_traceback_and_the_signal_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(ZeroDivisionError):
        cli.run_cli(lambda argv: 1 / 0)
    with pytest.raises(FileNotFoundError):  # not a full disk: the traceback says where it came from
        cli.run_cli(lambda argv: Path("/nonexistent/dir/file").write_text("x"))
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job (`make report &`)
    try:
        assert cli.run_cli(lambda argv: 0 if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else 5) == 0
    finally:
        signal.signal(signal.SIGINT, before[1])


def _stop_script(body: str) -> subprocess.CompletedProcess:
    """Runs `body` as main under run_cli in a fresh interpreter (its signals never reach pytest)."""
    code = (
        "import gc, os, signal, sys, time\nfrom voltlib import cli\n"
        "def main(argv):\n" + "".join(f"    {line}\n" for line in body.splitlines()) + "sys.exit(cli.run_cli(main))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_second_signal_during_the_cleanup_is_obeyed_not_ignored():
    done = _stop_script(
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN\n"
        "    os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)  # the cleanup, cut short\n"
        "return 0"
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert done.stderr.strip().splitlines() == [
        "stopped by SIGTERM: what was running was shut down and left no partial output; finished work is kept. "
        "Run the same command again to continue."
    ]


def test_a_stop_that_lands_in_a_gc_callback_is_delivered_again_not_swallowed():
    # Python reports an exception raised in a gc callback as 'Exception ignored in ...' and goes on;
    # the signal's handler runs wherever the main thread is, so a Ctrl-C can land there (Dask's GCDiagnosis)
    done = _stop_script(
        "def callback(phase, info):\n"
        "    gc.callbacks.remove(callback)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    for _ in range(1000): pass  # the handler runs here, inside the callback\n"
        "gc.callbacks.append(callback)\n"
        "gc.collect()\n"
        "t0 = time.time()\n"
        "while time.time() - t0 < 5:\n"
        "    time.sleep(0.01)\n"
        "return 3  # the stop was lost"
    )
    assert done.returncode == 128 + signal.SIGINT, (done.returncode, done.stderr)
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_stop_that_arrives_while_the_stop_is_reported_leaves_the_exit_status_130():
    # CI, a storm of Ctrl-Cs on the fan-out: a redelivered stop landed as run_cli restored its handlers,
    # and the command that had said it stopped died of SIGINT (-2) instead of exiting 130
    done = _stop_script(
        "class Stderr:\n"
        "    def __init__(self, real): self.real, self.sent = real, False\n"
        "    def write(self, text):\n"
        "        if not self.sent:\n"
        "            self.sent = True\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "            for _ in range(1000): pass  # the handler runs here, in the middle of the report\n"
        "        return self.real.write(text)\n"
        "    def flush(self): self.real.flush()\n"
        "sys.stderr = Stderr(sys.stderr)\n"
        "raise KeyboardInterrupt('SIGINT')"
    )
    assert done.returncode == 128 + signal.SIGINT, (done.returncode, done.stderr)
    assert done.stderr.strip().splitlines() == [
        "stopped by Ctrl-C (SIGINT): what was running was shut down and left no partial output; finished work is "
        "kept. Run the same command again to continue."
    ]


def test_no_redelivery_is_left_on_its_way_once_run_cli_returns():
    code = (
        "import gc, os, signal, sys, threading\nfrom voltlib import cli\n"
        "def main(argv):\n"
        "    def callback(phase, info):\n"
        "        gc.callbacks.remove(callback)\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        for _ in range(1000): pass  # swallowed here: a redelivery is scheduled\n"
        "    gc.callbacks.append(callback)\n"
        "    gc.collect()\n"
        "    raise KeyboardInterrupt('SIGINT')  # the stop arrives by another way before the redelivery\n"
        "status = cli.run_cli(main)\n"
        "print(status, len(cli._resends), threading.active_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(128 + signal.SIGINT), "0", "1"]


def test_a_full_disk_named_by_the_store_is_its_one_line(capsys):
    def main(argv):
        raise store.DiskFullError("the disk holding data/models/x is full (no space left on device): free space")

    assert cli.run_cli(main) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: the disk holding data/models/x is full (no space left on device): free space"
    ]


def test_a_stop_while_the_command_still_loads_its_modules_is_one_line(tmp_path):
    # torch, numpy and Dask take seconds to import, before run_cli's handler is in place
    proc = start_pipeline("--profile", "smoke", "--no-report", env={"VOLTLIB_ROOT": str(tmp_path)})
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stopped by Ctrl-C (SIGINT)") and "Traceback" not in err, err


def test_a_process_multiprocessing_starts_leaves_ctrl_c_to_its_parent():
    """A worker spawned while voltlib loads ignores SIGINT (the build stops it), and the parent keeps its own."""
    import multiprocessing
    import signal

    from voltlib import _loading

    before = signal.getsignal(signal.SIGINT)
    ctx = multiprocessing.get_context("spawn")  # as the embedded cluster starts its workers
    queue = ctx.Queue()
    child = ctx.Process(target=_loading.sigint_disposition, args=(queue,))  # unpickling it imports voltlib
    child.start()
    try:
        assert queue.get(timeout=120) == "ignored"
    finally:
        child.join(timeout=60)
    assert _loading.sigint_disposition() != "ignored" and signal.getsignal(signal.SIGINT) is before


def test_every_command_hands_its_stops_to_run_cli_once_it_works(tmp_path):
    """A Ctrl-C during a command's work (here `python -m voltlib.sim.nwb` simulating) is run_cli's one line.

    Only the loading-time handler was in place for the budget study, nwb, golden, browser and forecast_recording:
    a Ctrl-C an hour into `make budget` said 'while starting: nothing had been done', and exited without
    shutting its cluster down (14 leaked semaphores)."""
    children = {"simulate.py", "restarts.py"}  # entry points of sim.child's process, which handles their stops
    commands = [
        f
        for f in paths.PACKAGE_DIR.rglob("*.py")
        if 'if __name__ == "__main__":' in f.read_text() and f.name not in children
    ]
    # budget_run, products_run, browser, forecast_recording, golden, nwb, bench, pipeline
    assert len(commands) == 8, commands
    for f in commands:
        assert "sys.exit(run_cli(main))" in f.read_text().split('if __name__ == "__main__":')[-1], f
    proc = subprocess.Popen(
        [sys.executable, "-m", "voltlib.sim.nwb", "--profile", "smoke", "--out", str(tmp_path / "nwb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VOLTLIB_ROOT": str(tmp_path)},
    )
    deadline = time.time() + 120
    while not (tmp_path / "data").exists() and time.time() < deadline:  # it is simulating
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "while starting" not in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("stopped by Ctrl-C (SIGINT): what was running was shut down"), err


def test_what_a_stop_tears_down_does_not_report_it_beside_the_builds_line():
    """Stopped mid-cell, nbclient logged 'Kernel died while waiting for execute reply' as papermill shut the
    kernel down, and asyncio 'Task exception was never retrieved' for the abandoned execute task at exit
    (make test-scheduler's storm, 8 lines); both come after the stop, so they are the build's to say."""
    script = """
import asyncio, logging, os, signal, sys, time
from voltlib.cli import run_cli

def main(argv):
    global loop, task
    loop = asyncio.new_event_loop()
    async def execute_cell():
        raise RuntimeError("Kernel died")
    task = loop.create_task(execute_cell())
    loop.run_until_complete(asyncio.sleep(0.05))  # the task ended with an error nobody retrieves
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)
    finally:  # the engine's cleanup, as the stop unwinds through it
        logging.getLogger("papermill").error("Kernel died while waiting for execute reply.")
    return 0

code = run_cli(main)
del task, loop  # at exit asyncio reports the task's unretrieved error
import gc; gc.collect()
logging.getLogger("voltlib").error("a voltlib error after the stop is still said")
sys.exit(code)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 128 + signal.SIGINT, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("stopped by Ctrl-C (SIGINT): what was running was shut down"), done.stderr
    assert lines[1:] == ["a voltlib error after the stop is still said"], done.stderr
