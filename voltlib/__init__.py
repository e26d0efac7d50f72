"""voltlib: the helper library behind the notebooks of the voltage-forecasting paper.

voltlib.device is imported first, on purpose: it sets PYTORCH_ENABLE_MPS_FALLBACK before torch's
first import, which is the only moment PyTorch reads it (Apple MPS then falls back to the CPU for
an operation it lacks instead of raising).
"""

import multiprocessing as _mp
import sys as _sys

if getattr(_mp.current_process(), "_inheriting", False):  # a process multiprocessing is starting: see _loading
    from voltlib._loading import leave_ctrl_c_to_the_parent

    leave_ctrl_c_to_the_parent()
elif _sys.argv[:1] == ["-m"]:  # `python -m voltlib.<command>`, before torch loads: see voltlib._loading
    from voltlib._loading import stop_quietly_while_loading

    stop_quietly_while_loading()

from voltlib import device as _device  # noqa: E402, F401  (must run before anything imports torch)
