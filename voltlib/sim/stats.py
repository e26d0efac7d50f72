"""Spike statistics of a simulation: firing rates and the CV of inter-spike intervals."""

from __future__ import annotations

import numpy as np


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
