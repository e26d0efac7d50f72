"""voltlib: the helper library behind the notebooks of the voltage-forecasting paper.

voltlib.device is imported first, on purpose: it sets PYTORCH_ENABLE_MPS_FALLBACK before torch's
first import, which is the only moment PyTorch reads it (Apple MPS then falls back to the CPU for
an operation it lacks instead of raising).
"""

from . import device as _device  # noqa: F401  (must run before anything imports torch)
