"""Spikes read from the recorded voltages alone, and each neuron's spike clock (METHODS.md section 11).

A forecaster sees only the noisy 1-ms voltage samples, not Brian2's spike times. A spike shows there
as a reset: the voltage falls from near the threshold to the reset value within one sample and is
held near it for the refractory period. The rule, applied to every neuron and sample:

    spike at sample t  <=>  v[t-1] - v[t] >= DROP_MV  and  v[t] <= v_reset + RESET_MARGIN_MV

A spike at time s (ms) is first visible at the sample after it (Brian2 records at the start of a
step, before that step's threshold and reset), so a detected spike at sample t stands for a spike
in [t - 1, t) samples. `true_spike_samples` maps the simulator's spike times the same way, which is
how tests/test_spikes.py scores the rule against the known spikes of a simulated network.
"""

from __future__ import annotations

import numpy as np

# A one-sample fall of 8 mV: the reset from threshold (-50 mV) to -70 mV is 20 mV, and a neuron fires
# within a millisecond only from a few mV below threshold; 8 mV in 1 ms would take three inhibitory
# spikes arriving together otherwise. Margin: the reset value plus a few jumps received while refractory.
DROP_MV = 8.0
RESET_MARGIN_MV = 3.0
CLOCK_CAP = 50  # samples: "no spike seen for 50 samples or more" is one state of the clock


def detect(v_mv: np.ndarray, v_reset_mv: float, drop_mv: float = DROP_MV, margin_mv: float = RESET_MARGIN_MV):
    """Returns detected spikes, bool [..., T, n], from voltages v_mv[..., T, n] (mV, time on axis -2)."""
    v = np.asarray(v_mv, dtype=np.float32)
    if v.ndim < 2:
        raise ValueError(
            f"v_mv has shape {v.shape}; expected [..., time, neuron] (at least 2-D). Pass one run as v_mv[run]."
        )
    out = np.zeros(v.shape, dtype=bool)
    fall = v[..., :-1, :] - v[..., 1:, :]
    out[..., 1:, :] = (fall >= drop_mv) & (v[..., 1:, :] <= v_reset_mv + margin_mv)
    return out


def true_spike_samples(spike_i, spike_t_ms, n_neurons: int, n_samples: int, dt_ms: float, start: int = 0):
    """Returns the simulator's spikes as bool [n_samples, n]: True at the first sample after each spike.

    start: the first sample kept (the discard), so row 0 is sample `start` of the run.
    """
    spike_i = np.asarray(spike_i, dtype=np.int64)
    sample = np.floor(np.asarray(spike_t_ms, dtype=np.float64) / dt_ms + 1e-9).astype(np.int64) + 1 - start
    keep = (sample >= 0) & (sample < n_samples)
    out = np.zeros((n_samples, n_neurons), dtype=bool)
    out[sample[keep], spike_i[keep]] = True
    return out


def widened(events: np.ndarray, k: int) -> np.ndarray:
    """bool [T, ...]: True at every sample within k samples (before or after) of an event of events [T, ...]."""
    e = np.asarray(events, bool)
    out = e.copy()
    for d in range(1, k + 1):
        out[d:] |= e[:-d]
        out[:-d] |= e[d:]
    return out


def match(detected: np.ndarray, true: np.ndarray, tolerance: int = 0) -> dict:
    """Precision, recall and counts of detected against true spikes [T, n]; a hit may be `tolerance` samples off."""
    det, tru = np.asarray(detected, bool), np.asarray(true, bool)
    if det.shape != tru.shape:
        raise ValueError(f"detected {det.shape} and true {tru.shape} spikes must have one shape [time, neuron]")
    hits = int(np.sum(det & widened(tru, tolerance)))
    recalled = int(np.sum(tru & widened(det, tolerance)))
    n_det, n_true = int(det.sum()), int(tru.sum())
    return {
        "n_detected": n_det,
        "n_true": n_true,
        "precision": hits / n_det if n_det else float("nan"),
        "recall": recalled / n_true if n_true else float("nan"),
    }


def clock(spikes: np.ndarray, cap: int = CLOCK_CAP) -> np.ndarray:
    """Returns samples since each neuron's last detected spike at or before t, int16 [..., T, n], capped at `cap`."""
    s = np.asarray(spikes, dtype=bool)
    t = np.arange(s.shape[-2]).reshape((-1, 1))
    last = np.where(s, t, -(cap + 1))
    last = np.maximum.accumulate(last, axis=-2)
    return np.minimum(t - last, cap).astype(np.int16)
