"""Runs a module in a child process (`python -m module args`), keeping Brian2's global state out of the caller."""

from __future__ import annotations

import subprocess
import sys
from collections import deque

from voltlib import paths

TAIL_LINES = 30  # lines of a failed child's output quoted in the error


def run_module(module: str, *args: str, progress: bool, what: str) -> None:
    """Runs `python -m module args` in the project root, echoing its "[module] ..." lines when progress.

    A non-zero exit raises RuntimeError("<what> failed (exit N). Its last output: ...") with the last
    TAIL_LINES lines the child wrote (stdout and stderr).
    """
    # the child's stdout and stderr are read as one stream, so a failure is quoted in the order it happened
    prefix = f"[{module}]"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=paths.ROOT,
    ) as proc:
        assert proc.stdout is not None  # stdout=PIPE gives the pipe
        for line in proc.stdout:
            tail.append(line)
            if progress and line.startswith(prefix):
                print(line.rstrip(), flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}). Its last output:\n" + "".join(tail))
