"""Notebook 01's figures: the simulated network's spikes, voltages, rates and irregularity."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import (  # noqa: F401
    CEILING_COLOR,
    EXC_COLOR,
    INH_COLOR,
    save_figure,
)


def raster_and_traces(sim, run: int = 0, t0_ms: float = 1000.0, span_ms: float = 500.0, n_traces: int = 3):
    """A spike raster of one run above voltage traces of a few E and I neurons; returns the figure."""
    net = sim.sim.network
    t_ms = sim.t_ms
    fig, (ax_r, ax_e, ax_i) = plt.subplots(
        3, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1]}
    )
    i, t = sim.spike_i[run], sim.spike_t_ms[run]
    keep = (t >= t0_ms) & (t < t0_ms + span_ms)
    exc = i[keep] < net.n_exc
    ax_r.scatter(t[keep][exc], i[keep][exc], s=2, c=EXC_COLOR, lw=0, label="excitatory")
    ax_r.scatter(t[keep][~exc], i[keep][~exc], s=2, c=INH_COLOR, lw=0, label="inhibitory")
    ax_r.set_ylabel("neuron")
    ax_r.legend(loc="lower right", bbox_to_anchor=(1, 1.0), markerscale=4, frameon=False, ncol=2)
    ax_r.set_title(f"run {run}: spikes and membrane voltage", loc="left")
    sel = (t_ms >= t0_ms) & (t_ms < t0_ms + span_ms)
    for ax, idx, color, label in (
        (ax_e, range(n_traces), EXC_COLOR, "E"),
        (ax_i, range(net.n_exc, net.n_exc + n_traces), INH_COLOR, "I"),
    ):
        for k, n in enumerate(idx):
            ax.plot(t_ms[sel], sim.v_mv[run, sel, n], color=color, alpha=1 - 0.25 * k, lw=0.8)
        ax.axhline(net.theta_mv, color="k", ls=":", lw=0.8)
        ax.set_ylabel(f"v of {label} cells (mV)")
    ax_i.set_xlabel("time (ms)")
    return fig


def rate_cv_histograms(rates_hz: np.ndarray, cvs: np.ndarray, n_exc: int, source_rate=30.0, source_cv=0.41):
    """Histograms of per-neuron rates and ISI CVs (all runs), E and I apart, source values marked."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, values, label, ref in (
        (axes[0], rates_hz, "firing rate (Hz)", source_rate),
        (axes[1], cvs, "CV of inter-spike intervals", source_cv),
    ):
        exc, inh = values[:, :n_exc].ravel(), values[:, n_exc:].ravel()
        bins = np.histogram_bin_edges(values[np.isfinite(values)], 30)
        ax.hist(exc[np.isfinite(exc)], bins, color=EXC_COLOR, alpha=0.6, label="excitatory", density=True)
        ax.hist(inh[np.isfinite(inh)], bins, color=INH_COLOR, alpha=0.6, label="inhibitory", density=True)
        ax.axvline(ref, color="k", ls="--", lw=1, label="source report")
        ax.set_xlabel(label)
    axes[0].set_ylabel("density")
    axes[1].legend(frameon=False)
    return fig
