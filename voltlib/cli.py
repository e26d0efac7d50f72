"""The command lines' common frame: one line for a user's error, a stop or a full disk, a traceback for a bug.

Every `python -m voltlib...` command runs its main through run_cli. SIGINT and SIGTERM unwind like
Ctrl-C, so the running step cleans up and the command says in one line that it stopped; a build that
failed (an error deriving from BuildFailed) says BUILD FAILED and why.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading

from voltlib.config import ConfigError
from voltlib.store import DiskFullError


class BuildFailed(RuntimeError):
    """A step of a build failed for a reason its message names (a notebook, a fit, the scheduler)."""


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


_received: list[int] = []  # the stop signals this process got, in order
_resends: list[threading.Timer] = []  # the redeliveries of swallowed stops not yet known to be done
_stopping = threading.Event()  # set once the command reports its stop: from then on a repeat is only recorded


def _stop(signum, frame) -> None:
    """SIGINT and SIGTERM (a killed make, a CI timeout) unwind like Ctrl-C, so the running step cleans up.

    Every signal raises, a repeat too: nothing is ever ignored, and a second Ctrl-C during the cleanup
    cuts it short (the temporaries it would have removed are cleared by the next build). Once the stop
    has been caught and is being reported, there is nothing left to cut short: a late one (a redelivery
    of one Python had swallowed, a second Ctrl-C) is recorded and changes neither the message nor the
    exit status.
    """
    _received.append(signum)
    quiet_the_teardown()
    if _stopping.is_set():
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


# What a stop tears down reports it through these loggers: the notebook engine that shuts its kernel
# down mid-cell ('Kernel died while waiting for execute reply', logged by nbclient through papermill's
# logger), and asyncio, which logs the engine's abandoned task ('Task exception was never retrieved ...
# DeadKernelError') as the build exits. The build says in one line that it stopped.
TEARDOWN_LOGGERS = ("papermill", "nbclient", "traitlets", "jupyter_client", "asyncio")


def quiet_the_teardown() -> None:
    """From a stop on, the loggers of the notebook machinery say nothing below CRITICAL."""
    for name in TEARDOWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _redeliver_swallowed_stops(default_hook):
    """An unraisable-exception hook: a stop raised where Python cannot propagate it is delivered again.

    A signal handler runs wherever the main thread is; inside a gc callback or a __del__ (Dask's
    GCDiagnosis._gc_callback) its KeyboardInterrupt is reported as 'Exception ignored in ...' and lost,
    and the build ran on. This sends the same signal again from a helper thread a moment later, so it
    lands at the next ordinary point of the main thread; anything else goes to the default hook.
    """

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _received:
            again = threading.Timer(0.05, _resend, (_received[-1],))
            again.daemon = True  # never holds up the exit
            _resends.append(again)
            again.start()
            return
        default_hook(unraisable)

    return hook


def _resend(signum: int) -> None:
    """Sends this process the signal again while run_cli's handler is still the one in place."""
    if signal.getsignal(signum) is _stop and not _stopping.is_set():
        os.kill(os.getpid(), signum)


def _settle_the_resends() -> None:
    """Waits out the redeliveries still scheduled, so none lands after run_cli's handlers are gone.

    A signal sent to this process is run by the handler in place when the main thread next checks, and
    signal.signal() checks before it swaps: a redelivery still on its way when run_cli restores the old
    handlers would land after the stop was reported (Python's default handler: a KeyboardInterrupt
    escaping to the top, the process dying of SIGINT instead of exiting 130).
    """
    while _resends:
        timer = _resends.pop()
        timer.cancel()
        timer.join()


def _user_errors() -> tuple:
    """The errors of a wrong choice (a profile, an option, a device): one line each, never a traceback."""
    device = sys.modules.get("voltlib.device")  # only imported (with torch) by what needs it
    return (ConfigError, device.DeviceError) if device else (ConfigError,)


def run_cli(main_fn, argv=None) -> int:
    """Runs a command line's main: a user error or a stop is one message and a non-zero exit; a bug keeps its traceback."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:  # a background job (`make report &`) keeps ignoring Ctrl-C
            signal.signal(sig, _stop)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _redeliver_swallowed_stops(sys.unraisablehook)
    _received.clear()
    _stopping.clear()
    try:
        return main_fn(argv) or 0
    except _user_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BuildFailed as err:
        print(f"\nBUILD FAILED: {err}", file=sys.stderr)
        return 1
    except DiskFullError as err:  # store's: it names the file and what to do
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno not in NO_SPACE:
            raise
        where = f": {err.filename}" if err.filename else ""
        print(
            f"error: the disk is full ({err.strerror}{where}). Free space (`make clean` "
            "removes the build and reports, `make clean-cache` the cached simulations and models too) and "
            "run the same command again.",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt as stop:
        _stopping.set()
        sig = signal.Signals.__members__.get(str(stop), signal.SIGINT)  # _stop names the signal; Ctrl-C does not
        print(
            f"\nstopped by {'Ctrl-C (SIGINT)' if sig == signal.SIGINT else sig.name}: what was running was shut "
            "down and left no partial output; finished work is kept. Run the same command again to continue.",
            file=sys.stderr,
        )
        return 128 + sig
    finally:
        _stopping.set()  # whatever ended main, a stop from here on is only recorded
        _settle_the_resends()
        sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)
