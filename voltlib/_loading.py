"""A stop while a command's modules load: one line, not a traceback from inside torch's import.

`python -m voltlib.workflow.pipeline` (or bench, golden) spends seconds importing torch, numpy and Dask before
its main installs the build's own stop handler (voltlib.cli.run_cli); a Ctrl-C or SIGTERM in that time
printed a 20-line KeyboardInterrupt traceback. Until then, nothing has been written, so the process
just says so and exits with the signal's code.
"""

from __future__ import annotations

import os
import signal
import sys


def stop_quietly_while_loading() -> None:
    """Installs the loading-time handler for SIGINT and SIGTERM (a signal that is ignored stays ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # a background job (`make report &`)
            signal.signal(sig, _stopped)


def leave_ctrl_c_to_the_parent() -> None:
    """In a process that multiprocessing is starting (a worker of the embedded Dask cluster): ignore SIGINT.

    A terminal's Ctrl-C goes to its whole process group, and a worker that was still importing torch
    printed an 80-line KeyboardInterrupt traceback (make test-scheduler's storm). The build that started
    the worker owns Ctrl-C and stops its workers itself; SIGTERM still ends a worker at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def sigint_disposition(queue=None) -> str:
    """This process's SIGINT handler, named, and put on `queue` if given (a spawned process's target in the
    test that a worker leaves Ctrl-C to its parent)."""
    handler = signal.getsignal(signal.SIGINT)
    # getsignal gives a callable, SIG_IGN or SIG_DFL, or None for a handler not installed from Python
    names: dict[object, str] = {signal.SIG_IGN: "ignored", signal.SIG_DFL: "default"}
    name = names.get(handler, "handled")
    if queue is not None:
        queue.put(name)
    return name


def _stopped(signum, frame) -> None:
    name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
    sys.stderr.write(f"\nstopped by {name} while starting: nothing had been done. Run the same command again.\n")
    sys.stderr.flush()
    os._exit(128 + signum)
