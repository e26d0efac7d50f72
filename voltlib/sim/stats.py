"""Spike statistics of a simulation: firing rates, the CV of inter-spike intervals, and the population's
synchrony (the Fano factor of its spike count, Golomb's chi of its voltages, the spectral peak of its rate)."""

from __future__ import annotations

import numpy as np
from scipy import signal


def rates_hz(spike_i: np.ndarray, n_neurons: int, duration_s: float) -> np.ndarray:
    """Firing rate of each neuron (Hz), shape [n_neurons]."""
    if duration_s <= 0:
        raise ValueError(f"duration_s={duration_s} must be positive")
    return np.bincount(np.asarray(spike_i), minlength=n_neurons)[:n_neurons] / duration_s


def cv_isi(spike_i: np.ndarray, spike_t_ms: np.ndarray, n_neurons: int, min_spikes: int = 3) -> np.ndarray:
    """CV (std/mean) of each neuron's inter-spike intervals, shape [n_neurons]; NaN below min_spikes spikes."""
    spike_i, spike_t_ms = np.asarray(spike_i), np.asarray(spike_t_ms)
    out = np.full(n_neurons, np.nan)
    order = np.lexsort((spike_t_ms, spike_i))
    i_sorted, t_sorted = spike_i[order], spike_t_ms[order]
    bounds = np.searchsorted(i_sorted, np.arange(n_neurons + 1))
    for n in range(n_neurons):
        t = t_sorted[bounds[n] : bounds[n + 1]]
        if len(t) >= min_spikes:
            isi = np.diff(t)
            out[n] = isi.std() / isi.mean()
    return out


def network_stats(sim) -> dict:
    """Mean rate (all, E, I; Hz) and mean CV of ISIs over all runs of a Simulation, plus per-neuron arrays."""
    net = sim.sim.network
    dur = sim.sim.duration_s
    rates = np.stack([rates_hz(i, net.n_neurons, dur) for i in sim.spike_i])  # [run, neuron]
    cvs = np.stack([cv_isi(i, t, net.n_neurons) for i, t in zip(sim.spike_i, sim.spike_t_ms)])
    exc = np.arange(net.n_neurons) < net.n_exc
    return {
        "rate_hz": float(rates.mean()),
        "rate_hz_exc": float(rates[:, exc].mean()),
        "rate_hz_inh": float(rates[:, ~exc].mean()) if (~exc).any() else float("nan"),
        "cv_isi": float(np.nanmean(cvs)),
        "rate_hz_per_run": rates.mean(axis=1),
        "rates_hz": rates,
        "cvs": cvs,
    }


def population_counts(spike_t_ms: np.ndarray, t0_ms: float, t1_ms: float, bin_ms: float = 1.0) -> np.ndarray:
    """Spikes of the whole population in each bin of [t0_ms, t1_ms), shape [(t1 - t0) / bin_ms]."""
    n_bins = int(round((t1_ms - t0_ms) / bin_ms))
    if n_bins < 1:
        raise ValueError(
            f"the span [{t0_ms}, {t1_ms}) ms holds no bin of {bin_ms} ms: expected t1_ms >= t0_ms + bin_ms"
        )
    t = np.asarray(spike_t_ms, np.float64)
    t = t[(t >= t0_ms) & (t < t0_ms + n_bins * bin_ms)]  # half-open: np.histogram would count the end in the last bin
    return np.bincount(((t - t0_ms) // bin_ms).astype(np.int64), minlength=n_bins)[:n_bins].astype(np.float64)


def fano_factor(counts: np.ndarray) -> float:
    """Variance over mean of the population's spike counts: about 1 for independent Poisson neurons
    (below 1 for regular ones), far above 1 when they fire together. NaN for a silent population."""
    counts = np.asarray(counts, np.float64)
    mean = counts.mean()
    return float(counts.var() / mean) if mean > 0 else float("nan")


def golomb_chi(v: np.ndarray) -> float:
    """Golomb's synchrony chi of voltages v [time, neuron]: sqrt(var of the population mean / mean of each
    neuron's var). 1 when every neuron moves alike, about 1/sqrt(n_neurons) when they move independently."""
    v = np.asarray(v, np.float64)
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 1:
        raise ValueError(f"v has shape {v.shape}: expected [time >= 2, neuron >= 1]")
    each = v.var(axis=0).mean()
    return float(np.sqrt(v.mean(axis=1).var() / each)) if each > 0 else float("nan")


SPECTRUM_BINS = 512  # bins of a Welch segment of the population rate: 512 ms at 1 ms


def rate_spectrum(
    counts: np.ndarray, bin_ms: float = 1.0, nperseg: int = SPECTRUM_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """The Welch power spectrum of the population's counts (mean removed): frequencies (Hz) and power."""
    counts = np.asarray(counts, np.float64)
    if len(counts) < nperseg:
        raise ValueError(f"{len(counts)} bins are too few for a spectrum of {nperseg}-bin segments: simulate longer")
    return signal.welch(counts - counts.mean(), fs=1000.0 / bin_ms, nperseg=nperseg)


def rate_peak(counts: np.ndarray, bin_ms: float = 1.0, fmin_hz: float = 5.0, nperseg: int = SPECTRUM_BINS) -> dict:
    """The population rate's dominant frequency above fmin_hz (rate_spectrum) and how far its power stands
    above the median of the spectrum there: a clear oscillation stands many times above it, an
    asynchronous population's highest bin only a few times (the spread of a noise spectrum)."""
    f, p = rate_spectrum(counts, bin_ms, nperseg)
    band = f >= fmin_hz
    f, p = f[band], p[band]
    k = int(np.argmax(p))
    median = float(np.median(p))
    return {"peak_hz": float(f[k]), "peak_over_median": float(p[k] / median) if median > 0 else float("nan")}


def run_state(
    v_mv: np.ndarray, spike_i: np.ndarray, spike_t_ms: np.ndarray, t0_ms: float, record_dt_ms: float = 1.0
) -> dict:
    """One run's state from t0_ms on (the transient before it left out): mean rate (Hz), mean CV of ISIs, the
    Fano factor of its 1 ms population counts, Golomb's chi of its recorded voltages, its rate's spectral peak."""
    v_mv = np.asarray(v_mv)
    n_neurons = v_mv.shape[1]
    t1_ms = v_mv.shape[0] * record_dt_ms
    spike_i, spike_t_ms = np.asarray(spike_i), np.asarray(spike_t_ms)
    keep = spike_t_ms >= t0_ms
    spike_i, spike_t_ms = spike_i[keep], spike_t_ms[keep]
    counts = population_counts(spike_t_ms, t0_ms, t1_ms)
    rates = rates_hz(spike_i, n_neurons, (t1_ms - t0_ms) / 1000.0)
    cvs = cv_isi(spike_i, spike_t_ms, n_neurons)
    return {
        "rate_hz": float(rates.mean()),
        "cv_isi": float(np.nanmean(cvs)) if np.isfinite(cvs).any() else float("nan"),
        "fano": fano_factor(counts),
        "chi": golomb_chi(v_mv[int(round(t0_ms / record_dt_ms)) :]),
        **rate_peak(counts),
    }
