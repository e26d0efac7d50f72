"""Figures shared by the notebooks: one house style, saved as PNG under report/<profile>/figures/."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import paths

EXC_COLOR, INH_COLOR = "#c0392b", "#2471a3"

plt.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 130, "savefig.bbox": "tight", "font.size": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 11,
})


def save_figure(fig, profile: str, name: str):
    """Saves fig as report/<profile>/figures/<name> (PNG) and returns the path."""
    if not name.endswith(".png"):
        raise ValueError(f"figure name {name!r} must end with .png")
    path = paths.figures_dir(profile) / name
    fig.savefig(path)
    return path


def raster_and_traces(sim, run: int = 0, t0_ms: float = 1000.0, span_ms: float = 500.0, n_traces: int = 3):
    """A spike raster of one run above voltage traces of a few E and I neurons; returns the figure."""
    net = sim.sim.network
    t_ms = sim.t_ms
    fig, (ax_r, ax_e, ax_i) = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True,
                                          gridspec_kw={"height_ratios": [2, 1, 1]})
    i, t = sim.spike_i[run], sim.spike_t_ms[run]
    keep = (t >= t0_ms) & (t < t0_ms + span_ms)
    exc = i[keep] < net.n_exc
    ax_r.scatter(t[keep][exc], i[keep][exc], s=2, c=EXC_COLOR, lw=0, label="excitatory")
    ax_r.scatter(t[keep][~exc], i[keep][~exc], s=2, c=INH_COLOR, lw=0, label="inhibitory")
    ax_r.set_ylabel("neuron")
    ax_r.legend(loc="lower right", bbox_to_anchor=(1, 1.0), markerscale=4, frameon=False, ncol=2)
    ax_r.set_title(f"run {run}: spikes and membrane voltage", loc="left")
    sel = (t_ms >= t0_ms) & (t_ms < t0_ms + span_ms)
    for ax, idx, color, label in ((ax_e, range(n_traces), EXC_COLOR, "E"),
                                  (ax_i, range(net.n_exc, net.n_exc + n_traces), INH_COLOR, "I")):
        for k, n in enumerate(idx):
            ax.plot(t_ms[sel], sim.v_mv[run, sel, n], color=color, alpha=1 - 0.25 * k, lw=0.8)
        ax.axhline(net.theta_mv, color="k", ls=":", lw=0.8)
        ax.set_ylabel(f"v of {label} cells (mV)")
    ax_i.set_xlabel("time (ms)")
    return fig


def rate_cv_histograms(rates_hz: np.ndarray, cvs: np.ndarray, n_exc: int, source_rate=30.0, source_cv=0.41):
    """Histograms of per-neuron rates and ISI CVs (all runs), E and I apart, source values marked."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, values, label, ref in ((axes[0], rates_hz, "firing rate (Hz)", source_rate),
                                   (axes[1], cvs, "CV of inter-spike intervals", source_cv)):
        exc, inh = values[:, :n_exc].ravel(), values[:, n_exc:].ravel()
        bins = np.histogram_bin_edges(values[np.isfinite(values)], 30)
        ax.hist(exc[np.isfinite(exc)], bins, color=EXC_COLOR, alpha=0.6, label="excitatory", density=True)
        ax.hist(inh[np.isfinite(inh)], bins, color=INH_COLOR, alpha=0.6, label="inhibitory", density=True)
        ax.axvline(ref, color="k", ls="--", lw=1, label="source report")
        ax.set_xlabel(label)
    axes[0].set_ylabel("density")
    axes[1].legend(frameon=False)
    return fig


def training_curves(histories: dict, labels: dict):
    """Validation loss per epoch of every phase, one panel per protocol; returns the figure."""
    fig, axes = plt.subplots(1, len(histories), figsize=(4.6 * len(histories), 3.4), sharey=True,
                             squeeze=False)
    for ax, (protocol, phases) in zip(axes[0], histories.items()):
        for phase, hist in phases.items():
            epochs = [h["epoch"] for h in hist]
            line, = ax.plot(epochs, [h["val_loss"] for h in hist], marker="o", ms=3, label=labels[phase])
            ax.plot(epochs, [h["train_loss"] for h in hist], color=line.get_color(), ls=":", lw=1)
        ax.set_title(f"{protocol} protocol (dotted: training loss)", loc="left")
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("validation MSE (z units^2)")
    axes[0, -1].legend(frameon=False)
    return fig


def ladder_bars(r2: dict, references: dict, source: dict | None = None):
    """Test R^2 of each model per protocol as bars, reference lines (e.g. baselines) across; returns the figure."""
    protocols = list(r2)
    names = list(next(iter(r2.values())))
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    width = 0.8 / len(protocols)
    for k, protocol in enumerate(protocols):
        x = np.arange(len(names)) + (k - (len(protocols) - 1) / 2) * width
        ax.bar(x, [r2[protocol].get(n, np.nan) for n in names], width, label=f"ours, {protocol} protocol")
    if source:
        ax.scatter(np.arange(len(names)), [source.get(n, np.nan) for n in names], marker="_", s=900,
                   color="k", zorder=3, label="source report")
    for (label, value), ls in zip(references.items(), ("--", ":", "-.", (0, (5, 1)))):
        ax.axhline(value, color="0.35", ls=ls, lw=1)
        ax.annotate(label, (len(names) - 0.5, value), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8, color="0.35", annotation_clip=False)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("test R^2 (1 ms ahead)")
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return fig
