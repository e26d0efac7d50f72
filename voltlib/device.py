"""Which device trains the models: CUDA, then Apple MPS, then CPU; VOLTLIB_DEVICE or an argument overrides.

Import voltlib.device before torch where MPS matters: PyTorch reads PYTORCH_ENABLE_MPS_FALLBACK
once, when torch is imported, and with it an operation MPS lacks runs on the CPU with one warning
instead of raising.
"""

from __future__ import annotations

import os
import sys

# the fallback works only if the variable was set before torch's first import
_MPS_FALLBACK_ON = "torch" not in sys.modules or os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1"
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")

import torch  # noqa: E402  (after the environment variable, on purpose)

DEVICES = ("cpu", "cuda", "mps")
_printed: set = set()


class DeviceError(RuntimeError):
    """The requested device is unknown or not available on this machine."""


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def cpu_threads() -> int:
    """Returns the CPU threads torch should use: the cores this process may run on, at most OMP_NUM_THREADS."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        cores = max(1, os.cpu_count() or 1)
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not limit:
        return cores
    if not limit.isdigit() or int(limit) < 1:
        raise DeviceError(
            f"OMP_NUM_THREADS={limit!r} is invalid: expected a whole number >= 1. "
            "Unset it or set it to the number of threads torch and BLAS may use."
        )
    return min(cores, int(limit))


def pick_device(requested: str | None = None, verbose: bool = True) -> torch.device:
    """Returns the torch.device to use: argument, else VOLTLIB_DEVICE, else CUDA > MPS > CPU."""
    name = requested or os.environ.get("VOLTLIB_DEVICE") or None
    if name is not None:
        name = name.strip().lower()
        kind = name.split(":")[0]
        if kind not in DEVICES:
            raise DeviceError(
                f"unknown device {name!r}: expected one of {DEVICES} (optionally 'cuda:N'). "
                "Set VOLTLIB_DEVICE or the notebook's `device` parameter to one of them, "
                "or leave it empty to choose automatically."
            )
        available = {"cpu": True, "cuda": cuda_available(), "mps": mps_available()}[kind]
        if not available:
            raise DeviceError(
                f"device {name!r} was requested but is not available on this machine "
                f"(cuda: {cuda_available()}, mps: {mps_available()}). Unset VOLTLIB_DEVICE "
                "or pass device=None to choose automatically."
            )
    elif cuda_available():
        name = "cuda"
    elif mps_available():
        name = "mps"
    else:
        name = "cpu"
    device = torch.device(name)
    if device.type == "cpu":
        # measured in voltlib.workflow.bench: one thread per available core is fastest for these LSTMs
        torch.set_num_threads(cpu_threads())
    if device.type == "mps" and not _MPS_FALLBACK_ON:
        print(
            "warning: torch was imported before voltlib.device, so the MPS CPU fallback may be off; "
            "set PYTORCH_ENABLE_MPS_FALLBACK=1 in the environment.",
            file=sys.stderr,
        )
    if verbose and str(device) not in _printed:
        _printed.add(str(device))
        print(f"device: {describe(device)}")
    return device


def describe(device: torch.device) -> str:
    """Returns a one-line description of the device (name, threads) for results and logs."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'' if n == 1 else 's'})"


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def keep_freed_memory(threshold: int = 2**30, mmap_threshold: int = 2**25) -> bool:
    """Lets glibc keep freed memory and serve a batch's tensors from its heap (True if it applied).

    A training allocates and frees the same few-MB tensors every batch. With glibc's defaults, or
    with the MALLOC_TRIM_THRESHOLD_=65536 that Dask's nanny gives its workers, each is mapped and
    unmapped again, and the page faults cost more than the arithmetic: one epoch of quick phase 1
    (2,000 windows) took 16-19 s in each of two single-threaded processes side by side, and 11.5-12.3 s
    with these thresholds. Called by train.train; a no-op where libc is not glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        # both: setting either stops glibc's own adjustment of the mmap threshold, and a batch's 2 MB
        # tensors would each be mapped and unmapped
        return bool(libc.mallopt(M_TRIM_THRESHOLD, threshold)) and bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to undo
        return False
