"""What an observer records of a simulation: each run's voltages after the discard, with measurement noise."""

from __future__ import annotations

import numpy as np

from voltlib.config import DataConfig, ms_to_samples


def noisy_runs_mv(v_mv: np.ndarray, data: DataConfig, record_dt_ms: float = 1.0) -> np.ndarray:
    """Returns every run after the discard with seeded N(0, meas_noise_mv) noise, [run, kept, n] float32 mV."""
    discard = ms_to_samples(data.discard_ms, record_dt_ms)
    out = np.array(v_mv[:, discard:], dtype=np.float32)
    for r in range(out.shape[0]):
        # one stream per run: run r's noise does not depend on how many runs there are or their order
        rng = np.random.default_rng([data.noise_seed, r])
        out[r] += data.meas_noise_mv * rng.standard_normal(out.shape[1:], dtype=np.float32)
    return out
