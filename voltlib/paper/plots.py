"""Figures shared by the notebooks: one house style, saved as PNG under report/<profile>/figures/."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from voltlib import paths
from voltlib.store import atomic_path

EXC_COLOR, INH_COLOR = "#c0392b", "#2471a3"
CEILING_COLOR = "#16a085"  # the oracle ceiling, and the lines and bands that refer to it

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 130,
        "savefig.bbox": "tight",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
    }
)


def describe(fig, limit: int = 400) -> str:
    """A figure in words, from its own text: its title(s) and, per panel, what is plotted against what.
    The report's alt text for the figure (voltlib.workflow.report reads it from the saved PNG)."""
    parts = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) is not None else []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.has_data():
            continue
        title = " ".join(t.get_text() for t in (ax.title, ax._left_title, ax._right_title) if t.get_text())
        y, x = ax.get_ylabel(), ax.get_xlabel()
        axes_text = f"{y} against {x}" if x and y else x or y
        text = ": ".join(t for t in (title, axes_text) if t)
        if text and text not in parts:
            parts.append(text)
    text = "; ".join(" ".join(p.split()) for p in parts if p.strip())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def save_figure(fig, profile: str, name: str):
    """Saves fig as report/<profile>/figures/<name> (PNG, its `describe` text as the PNG's Description)
    and returns the path."""
    if not name.endswith(".png"):
        raise ValueError(f"figure name {name!r} must end with .png")
    path = paths.figures_dir(profile) / name
    with atomic_path(path, checksum=False) as tmp:  # the build records its hash among the notebook's outputs
        fig.savefig(tmp, format="png", metadata={"Description": describe(fig)})
    return path


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


def training_curves(histories: dict, labels: dict):
    """Validation loss per epoch of every phase and training seed, one panel per protocol; returns the figure.

    histories: {protocol: {phase: {seed: [epoch records]}}}. A phase's seeds share its colour; the
    first seed is drawn with markers, the others as thin lines.
    """
    fig, axes = plt.subplots(1, len(histories), figsize=(4.6 * len(histories), 3.4), sharey=True, squeeze=False)
    for ax, (protocol, phases) in zip(axes[0], histories.items()):
        for k, (phase, by_seed) in enumerate(phases.items()):
            color = f"C{k}"
            for j, hist in enumerate(by_seed.values()):
                epochs = [h["epoch"] for h in hist]
                label = labels[phase] + (f" ({len(by_seed)} seeds)" if len(by_seed) > 1 else "")
                first = dict(marker="o", ms=3, label=label) if j == 0 else dict(lw=0.8, alpha=0.7)
                ax.plot(epochs, [h["val_loss"] for h in hist], color=color, **first)
                if j == 0:
                    ax.plot(epochs, [h["train_loss"] for h in hist], color=color, ls=":", lw=1)
        ax.set_title(f"{protocol} protocol (dotted: training loss, first seed)", loc="left")
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("validation MSE (z units²)")
    axes[0, -1].legend(frameon=False)
    return fig


def ladder_bars(r2: dict, references: dict, source: dict | None = None, ci: dict | None = None):
    """Test R^2 of each model per protocol as bars, reference lines (e.g. baselines) across; returns the figure.

    ci: {protocol: {name: (lo, hi)}}, drawn as error bars (the 95 % intervals).
    """
    protocols = list(r2)
    names = list(next(iter(r2.values())))
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    width = 0.8 / len(protocols)
    for k, protocol in enumerate(protocols):
        x = np.arange(len(names)) + (k - (len(protocols) - 1) / 2) * width
        heights = np.array([r2[protocol].get(n, np.nan) for n in names])
        ax.bar(x, heights, width, label=f"ours, {protocol} protocol")
        if ci:
            bounds = np.array([(ci.get(protocol) or {}).get(n) or (np.nan, np.nan) for n in names], float)
            yerr = np.abs(bounds.T - heights)  # [2, names]: below, above
            ax.errorbar(x, heights, yerr=yerr, fmt="none", ecolor="k", elinewidth=1, capsize=2)
    if source:
        ax.scatter(
            np.arange(len(names)),
            [source.get(n, np.nan) for n in names],
            marker="_",
            s=900,
            color="k",
            zorder=3,
            label="source report",
        )
    for (label, value), ls in zip(references.items(), ("--", ":", "-.", (0, (5, 1)))):
        ax.axhline(value, color="0.35", ls=ls, lw=1)
        ax.annotate(
            label,
            (len(names) - 0.5, value),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="0.35",
            annotation_clip=False,
        )
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("test R² (1 ms ahead)")
    ax.legend(frameon=False, loc="upper center", fontsize=8, bbox_to_anchor=(0.5, -0.12), ncol=3)
    return fig


# ---------------------------------------------------------------- error analysis (notebook 06)


def _ei_axis(ax, n: int, n_exc: int, axis: str = "x"):
    """Marks the E | I boundary of a neuron axis with a line and two labels."""
    line = ax.axvline if axis == "x" else ax.axhline
    line(n_exc - 0.5, color="k", lw=0.8)
    # x: labels above the axes at data x; y: labels right of the axes at data y
    coords, offset, align = (
        (("data", "axes fraction"), (0, 2), {"ha": "center", "va": "bottom"})
        if axis == "x"
        else (("axes fraction", "data"), (2, 0), {"ha": "left", "va": "center"})
    )
    for pos, label, color in ((n_exc / 2, "E", EXC_COLOR), (n_exc + (n - n_exc) / 2, "I", INH_COLOR)):
        xy = (pos, 1.0) if axis == "x" else (1.0, pos)
        ax.annotate(
            label,
            xy,
            xycoords=coords,
            xytext=offset,
            textcoords="offset points",
            color=color,
            fontweight="bold",
            **align,
        )


def neuron_heatmap(r2_by_h: np.ndarray, rmse_mv_by_h: np.ndarray, horizons_ms, n_exc: int):
    """Per-neuron test R^2 and RMSE (mV) at each horizon [H, n] as two heat maps; returns the figure."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True)
    n = r2_by_h.shape[1]
    for ax, values, label, cmap, lims in (
        (axes[0], r2_by_h, "R²", "viridis", (min(0, np.nanmin(r2_by_h)), 1)),
        (axes[1], rmse_mv_by_h, "RMSE (mV)", "magma", (0, np.nanmax(rmse_mv_by_h))),
    ):
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=lims[0], vmax=lims[1], interpolation="nearest")
        ax.set_yticks(range(len(horizons_ms)), [f"{h:g} ms" for h in horizons_ms])
        ax.set_ylabel("horizon")
        fig.colorbar(im, ax=ax, label=label, pad=0.03)
        _ei_axis(ax, n, n_exc)
    axes[1].set_xlabel("neuron index")
    axes[0].set_title("CNN-LSTM trained at each horizon: per-neuron test error", loc="left", pad=14)
    return fig


def neuron_ranking(
    r2: np.ndarray,
    n_exc: int,
    ei: dict,
    r2_run_neuron: np.ndarray,
    rate_hz: np.ndarray,
    in_degree: np.ndarray,
    rho_rate: dict,
    rho_degree: dict,
):
    """Neurons ranked by R^2 (E/I coloured) and per (run, neuron) R^2 against rate and in-degree; returns the figure."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    order = np.argsort(r2)[::-1]
    colors = np.where(order < n_exc, EXC_COLOR, INH_COLOR)
    axes[0].bar(np.arange(len(r2)), r2[order], color=colors, width=1.0)
    axes[0].set_xlabel("rank")
    axes[0].set_ylabel("test R² (1 ms)")
    lo = min(0.0, float(r2.min()) - 0.05)
    axes[0].set_ylim(lo, max(1.0, float(r2.max()) + 0.05))
    axes[0].set_title(
        f"E median {ei['median_exc']:.3f}, I median {ei['median_inh']:.3f}; Mann-Whitney p = {ei['p']:.2g}",
        loc="left",
        fontsize=9,
    )
    axes[0].bar([0], [0], color=EXC_COLOR, label="excitatory")
    axes[0].bar([0], [0], color=INH_COLOR, label="inhibitory")
    axes[0].legend(frameon=False, loc="upper right")
    exc = np.arange(r2_run_neuron.shape[1]) < n_exc
    for ax, x, label, rho in (
        (axes[1], rate_hz, "firing rate in that run (Hz)", rho_rate),
        (axes[2], in_degree, "in-degree in that run", rho_degree),
    ):
        jitter = 0.0 if label.startswith("firing") else np.random.default_rng(0).uniform(-0.2, 0.2, x.shape)
        for mask, color in ((exc, EXC_COLOR), (~exc, INH_COLOR)):
            ax.scatter((x + jitter)[:, mask].ravel(), r2_run_neuron[:, mask].ravel(), s=4, alpha=0.5, color=color, lw=0)
        ax.set_xlabel(label)
        ax.set_title(f"Spearman rho = {rho['rho']:.2f} (p = {rho['p']:.2g})", loc="left", fontsize=9)
    axes[1].set_ylabel("R² of one neuron in one test run")
    return fig


def temporal_patterns(prof: dict, horizon_ms: float, reset: dict):
    """Squared error against time since spike, spike offset, cumulative share, voltage and time in run; returns the figure."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.6))
    (a, b, c), (d, e, f) = axes
    styles: dict[str, dict[str, Any]] = {
        "CNN-LSTM": dict(color="k", marker="o", ms=3),
        "persistence": dict(color="0.55", ls="--"),
    }
    for name, p in prof.items():
        a.plot(p["since"]["centers"], p["since"]["mse"], label=name, **styles[name])
        b.plot(p["offset"]["centers"], p["offset"]["mse"], label=name, **styles[name])
        c.plot(p["cumulative"]["within_ms"], p["cumulative"]["share_of_error"], label=f"{name}: error", **styles[name])
        d.plot(p["voltage"]["centers"], p["voltage"]["mse"], label=name, **styles[name])
        e.plot(p["time"]["centers"], p["time"]["mse"], label=name, **styles[name])
    c.plot(
        p["cumulative"]["within_ms"],
        p["cumulative"]["share_of_samples"],
        color=EXC_COLOR,
        ls=":",
        label="share of samples",
    )
    a.set_xscale("log")
    a.set_xlabel("time since the neuron's last spike (ms)")
    b.axvspan(0, horizon_ms, color=EXC_COLOR, alpha=0.12, lw=0)
    b.set_xlabel("target time - nearest spike of the neuron (ms)")
    b.annotate(
        "spike after the last input",
        (horizon_ms, 0.02),
        xycoords=("data", "axes fraction"),
        xytext=(6, 0),
        textcoords="offset points",
        va="bottom",
        fontsize=8,
        color=EXC_COLOR,
    )
    c.set_xlabel("within x ms after a spike")
    c.set_ylabel("cumulative share")
    c.set_xscale("log")
    c.set_title(
        f"within {reset['within_ms']:g} ms: {100 * reset['share_of_error']:.0f} % of the error, "
        f"{100 * reset['share_of_samples']:.1f} % of samples",
        loc="left",
        fontsize=9,
    )
    d.set_xlabel("true target voltage (mV)")
    e.set_xlabel("time in the run (s)")
    for ax in (a, b, d, e):
        ax.set_ylabel("MSE (z units²)")
        ax.set_yscale("log")
    a.legend(frameon=False, fontsize=8)
    c.legend(frameon=False, fontsize=8, loc="lower right")
    f.axis("off")
    fig.tight_layout()
    return fig


def r2_vs_horizon(
    horizons_ms,
    curves: dict,
    ceiling=None,
    ceiling_ci=None,
    ceiling_oracle=None,
    ceiling_oracle_ci=None,
    ylim=(-1.0, 1.0),
    ax=None,
):
    """Test R^2 against horizon (ms, log axis) for named curves {name: (r2 list, style dict)}, ceiling bands optional."""
    # ceiling: with the measurement noise (what the models face, dashed); ceiling_oracle: without it
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.5, 4.2))
    h = np.asarray(horizons_ms, float)
    for values, ci, label, line, alpha in (
        (ceiling_oracle, ceiling_oracle_ci, "ceiling (oracle)", dict(lw=2), 0.25),
        (ceiling, ceiling_ci, "ceiling + 0.2 mV meas. noise", dict(lw=1.2, ls="--"), 0.12),
    ):
        if values is None:
            continue
        ax.plot(h, values, color=CEILING_COLOR, label=label, **line)
        if ci is not None:
            ci = np.asarray(ci)
            ax.fill_between(h, ci[:, 0], ci[:, 1], color=CEILING_COLOR, alpha=alpha, lw=0)
    for name, (values, style) in curves.items():
        ax.plot(h[: len(values)], values, label=name, **{"marker": "o", "ms": 3, **style})
    ax.set_xscale("log")
    ax.set_xticks(h, [f"{x:g}" for x in h])
    ax.set_xlabel("horizon (ms)")
    ax.set_ylabel("test R²")
    ax.set_ylim(*ylim)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def gain_share_bars(horizons_ms, shares: dict, ax=None, colors: dict | None = None, intervals: dict | None = None):
    """Share of the achievable gain above the floor per model and horizon as grouped bars; returns the figure.

    intervals: {name: [(lo, hi) per horizon]} drawn as 95 % error bars where given.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    width = 0.8 / max(len(shares), 1)
    x = np.arange(len(horizons_ms))
    for k, (name, values) in enumerate(shares.items()):
        pos = x + (k - (len(shares) - 1) / 2) * width
        ax.bar(pos, np.clip(values, -1, None), width, label=name, color=(colors or {}).get(name))
        ci = (intervals or {}).get(name)
        if ci is not None:
            ci = np.clip(np.asarray(ci, float), -1, None)
            err = np.abs(ci.T - np.clip(np.asarray(values, float), -1, None)[None, :])
            ax.errorbar(pos, np.clip(values, -1, None), yerr=err, fmt="none", ecolor="k", elinewidth=0.8, capsize=2)
        for p, v in zip(pos, values):
            if v < -1:  # clipped bar: print its value
                ax.annotate(
                    f"{100 * v:.0f} %",
                    (p, -1),
                    xytext=(0, 2),
                    textcoords="offset points",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="w",
                )
    ax.axhline(0, color="k", lw=0.8)
    ax.axhline(1, color=CEILING_COLOR, lw=1, ls="--")
    ax.set_xticks(x, [f"{h:g}" for h in horizons_ms])
    ax.set_xlabel("horizon (ms)")
    ax.set_ylabel("(R² - R² floor) / (R² ceil. - R² floor)")
    lowest = min((float(np.nanmin(v)) for v in shares.values() if len(v)), default=0.0)
    ax.set_ylim(max(-1.05, min(lowest, 0.0) - 0.05), 1.1)  # below -1 is clipped and labelled
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# the staircase's members: colours apart from the ceiling's and markers that tell them apart also in grey print
STAIRCASE_STYLES = (
    {"color": "#1f78b4", "marker": "s"},
    {"color": "#7570b3", "marker": "^"},
    {"color": "#d95f02", "marker": "o"},
    {"color": "#e7298a", "marker": "D"},
)


def staircase(horizons_ms, curves: dict, shares: dict, share_cis: dict, ceiling, ceiling_ci, colors: dict):
    """The forecasters against the ceiling: test R² by horizon (left) and share of the achievable gain (right).

    Sized for the report's text column (8 x 5.2 in, shown at about its own size): one legend for both
    panels, below them, so it covers no line.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 5.2), gridspec_kw={"width_ratios": [1.1, 1]})
    r2_vs_horizon(horizons_ms, curves, ceiling=ceiling, ceiling_ci=ceiling_ci, ylim=(-0.05, 1.0), ax=left)
    left.set_title("test R² (clean protocol)", fontsize=10)
    gain_share_bars(horizons_ms, shares, ax=right, colors=colors, intervals=share_cis)
    right.set_title("share of the achievable gain, 95 % CI", fontsize=10)
    right.set_ylabel("share of the achievable gain")
    for ax in (left, right):
        ax.get_legend().remove()
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.02 + 0.04 * ((len(labels) + 1) // 2), 1, 1))
    return fig


def wiring_recovery(past_s, auc_by_run: dict, null_auc: dict, gain_by_past: dict, reference: str):
    """How the inferred coupling finds the synapses as the run's past grows (left) and what it adds (right).

    auc_by_run / null_auc: {"E"|"I": [runs, checkpoints]}; gain_by_past: {label: [checkpoints]} test R² of
    the forecasts made while each checkpoint's coupling was in use, minus the `reference` member's on the
    same windows.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    past_s = np.asarray(past_s, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # checkpoint 0 (no past), a null without other runs: NaN
        for kind, color in (("E", EXC_COLOR), ("I", INH_COLOR)):
            a = np.asarray(auc_by_run[kind], float)
            left.plot(past_s, np.nanmean(a, axis=0), color=color, marker="o", ms=3, label=f"{kind} synapses, this run")
            left.fill_between(past_s, np.nanmin(a, axis=0), np.nanmax(a, axis=0), color=color, alpha=0.15, lw=0)
            null = np.nanmean(np.asarray(null_auc[kind], float), axis=0)
            if np.isfinite(null).any():
                left.plot(past_s, null, color=color, ls=":", label=f"{kind}, other runs' graphs (null)")
    left.axhline(0.5, color="0.6", lw=0.8)
    left.set_xlabel("past the coupling is fitted on (s)")
    left.set_ylabel("ROC AUC (synapse vs none)")
    left.set_ylim(0.4, 1.02)
    left.legend(frameon=False, fontsize=8, loc="center right")
    left.set_title("synapses found in the run itself (band: min-max over test runs)", fontsize=10)
    for label, values in gain_by_past.items():
        right.plot(past_s, values, marker="o", ms=3, label=label)
    right.axhline(0, color="0.6", lw=0.8)
    right.set_xlabel("past the coupling is fitted on (s)")
    right.set_ylabel(f"test R² at 1 ms minus {reference}'s")
    right.legend(frameon=False, fontsize=8)
    right.set_title("what the wiring adds to forecasts made with that coupling", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- interpretability (notebook 07)


def cnn_filters(trained: dict, init: dict):
    """Mean |conv weight| per (input time step, neuron offset) of both convolutions, and against initial weights; returns the figure."""
    fig = plt.figure(figsize=(14, 6.4))
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.6])
    for col, name in enumerate(("conv1", "conv2")):
        ax = fig.add_subplot(grid[:, col])
        m = np.asarray(trained[name]["by_step_offset"])  # [in_t, k]
        im = ax.imshow(
            m,
            aspect="auto",
            cmap="viridis",
            interpolation="nearest",
            extent=(-0.5, m.shape[1] - 0.5, m.shape[0] - 0.5, -0.5),
        )
        ax.set_xticks(range(m.shape[1]), [f"{o:+d}" for o in trained[name]["offsets"]])
        ax.set_xlabel("neuron-index offset")
        ax.set_title(f"{name}: mean |w|", loc="left")
        fig.colorbar(im, ax=ax, pad=0.02, shrink=0.8)
    fig.axes[0].set_ylabel("input channel = time step of the window (149 = newest)")
    ax = fig.add_subplot(grid[0, 2])
    for k, name in enumerate(("conv1", "conv2")):
        off = np.asarray(trained[name]["offsets"]) + (k - 0.5) * 0.35
        ax.bar(off, trained[name]["by_offset"], 0.35, label=f"{name} trained")
        ax.scatter(
            off,
            init[name]["by_offset"],
            marker="_",
            s=120,
            color="k",
            zorder=3,
            label="at initialisation" if k else None,
        )
    ax.set_xlabel("neuron-index offset")
    ax.set_ylabel("mean |w|")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax = fig.add_subplot(grid[1, 2])
    for name, color in (("conv1", "C0"), ("conv2", "C1")):
        ax.plot(trained[name]["by_input_step"], color=color, label=f"{name} trained")
        ax.plot(init[name]["by_input_step"], color=color, ls=":", lw=1, label=f"{name} initial")
    ax.set_xlabel("input channel (time step; 149 = newest)")
    ax.set_ylabel("mean |w|")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def feature_importance(
    ablation: dict, own: np.ndarray, others: np.ndarray, n_exc: int, lag_labels: list, lag_imp: np.ndarray
):
    """Ablation R^2 bars, permutation importance per input neuron (own vs other outputs) and per lag group; returns the figure."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0), gridspec_kw={"width_ratios": [1.1, 1.6, 1]})
    _r2_bars(axes[0], ablation)
    x = np.arange(len(own))
    axes[1].bar(x, own, color=np.where(x < n_exc, EXC_COLOR, INH_COLOR), width=1.0, label="on its own forecast")
    axes[1].bar(x, others, bottom=own, color="0.6", width=1.0, label="on all other neurons' forecasts")
    axes[1].set_xlabel("input neuron shuffled across windows")
    axes[1].set_ylabel("increase in summed MSE (z²)")
    axes[1].legend(frameon=False, fontsize=8)
    _ei_axis(axes[1], len(own), n_exc)
    axes[2].bar(range(len(lag_labels)), lag_imp, color="0.3")
    axes[2].set_xticks(range(len(lag_labels)), lag_labels, rotation=45)
    axes[2].set_xlabel("lags shuffled (1 = newest input sample)")
    axes[2].set_ylabel("increase in mean MSE (z²)")
    axes[2].set_yscale("symlog", linthresh=1e-3)
    fig.tight_layout()
    return fig


def spatial_patterns(sens: np.ndarray, w_mv: np.ndarray, corr: dict, n_exc: int, run: int):
    """Input-output sensitivity beside the test run's connectivity, their scatter and the other-runs null; returns the figure."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 9.2))
    off = ~np.eye(len(sens), dtype=bool)
    lim = float(np.percentile(np.abs(sens[off]), 99))
    im = axes[0, 0].imshow(np.where(off, sens, np.nan), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=axes[0, 0], shrink=0.8, label="d forecast[post] / d input[pre] (diagonal hidden)")
    axes[0, 0].set_title("model sensitivity (mean gradient)", loc="left", pad=14)
    wl = float(np.abs(w_mv).max())
    im = axes[0, 1].imshow(w_mv, cmap="RdBu_r", vmin=-wl, vmax=wl, interpolation="nearest")
    fig.colorbar(im, ax=axes[0, 1], shrink=0.8, label="synaptic jump (mV)")
    axes[0, 1].set_title(f"true connectivity of test run {run}", loc="left", pad=14)
    for ax in axes[0]:
        ax.set_xlabel("post (forecast neuron)")
        ax.set_ylabel("pre (input neuron)")
        _ei_axis(ax, len(sens), n_exc)
        _ei_axis(ax, len(sens), n_exc, axis="y")
    s, w = sens[off], w_mv[off]
    levels = np.unique(w)
    axes[1, 0].boxplot([s[w == v] for v in levels], positions=range(len(levels)), showfliers=False)
    axes[1, 0].set_xticks(range(len(levels)), [f"{v:g}" for v in levels])
    axes[1, 0].set_xlabel("true weight pre -> post (mV)")
    axes[1, 0].set_ylabel("sensitivity")
    axes[1, 0].set_title(f"Pearson r = {corr['r_own']:.3f} over {off.sum():,} pairs", loc="left", fontsize=9)
    axes[1, 1].hist(corr["r_other_runs"], bins=10, color="0.6", label="other runs' graphs")
    axes[1, 1].axvline(corr["r_own"], color="k", lw=2, label=f"own run's graph ({corr['r_own']:.3f})")
    axes[1, 1].set_xlabel("r(sensitivity, connectivity)")
    axes[1, 1].set_ylabel("runs")
    axes[1, 1].legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def lstm_dynamics(
    t_ms: np.ndarray,
    pcs: np.ndarray,
    explained: np.ndarray,
    rate_hz: np.ndarray,
    osc: dict,
    decoding: dict,
    span_ms: float = 300.0,
):
    """Hidden-state PCs beside the population rate, a PC trajectory coloured by phase, the rate spectrum and decoding R^2; returns the figure."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.6))
    sel = t_ms < t_ms[0] + span_ms

    def z(v):
        return (v - v.mean()) / v.std()

    ax = axes[0, 0]
    ax.plot(t_ms[sel], z(rate_hz)[sel], color="0.5", lw=1, label="population rate")
    for k in range(min(2, pcs.shape[1])):
        ax.plot(t_ms[sel], z(pcs[:, k])[sel], lw=1, label=f"hidden PC{k + 1} ({100 * explained[k]:.0f} %)")
    ax.set_xlabel("time in the test run (ms)")
    ax.set_ylabel("z-scored")
    ax.legend(frameon=False, fontsize=8, ncol=3, loc="upper left")
    ax = axes[0, 1]
    sc = ax.scatter(pcs[sel, 0], pcs[sel, 1], c=osc["phase"][sel], cmap="twilight", s=6)
    ax.plot(pcs[sel, 0], pcs[sel, 1], color="0.8", lw=0.5, zorder=0)
    fig.colorbar(sc, ax=ax, label="oscillation phase (rad)")
    ax.set_xlabel("hidden PC1")
    ax.set_ylabel("hidden PC2")
    ax = axes[1, 0]
    ax.semilogy(osc["freqs_hz"], osc["power"], color="k", lw=1)
    ax.axvspan(*osc["band_hz"], color="#16a085", alpha=0.2, lw=0)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("population-rate power")
    ax.set_title(
        f"peak {osc['peak_hz']:.0f} Hz, {osc['peak_over_median']:.1f} x the median power", loc="left", fontsize=9
    )
    ax = axes[1, 1]
    names = list(decoding)
    targets = list(next(iter(decoding.values())))
    width = 0.8 / len(targets)
    for k, tgt in enumerate(targets):
        ax.bar(
            np.arange(len(names)) + (k - (len(targets) - 1) / 2) * width,
            [decoding[n][tgt] for n in names],
            width,
            label=tgt,
        )
    ax.set_xticks(range(len(names)), names, fontsize=8, rotation=15)
    ax.set_ylabel("held-out decoding R²")
    ax.axhline(0, color="k", lw=0.8)
    low = min(decoding[n][t] for n in names for t in targets)
    ax.set_ylim(max(-0.5, low - 0.05), 1.0)  # a decoder far below 0 is just "useless"; clip it
    for k, tgt in enumerate(targets):
        for i, name in enumerate(names):
            v = decoding[name][tgt]
            ax.annotate(
                f"{v:.2f}",
                (i + (k - (len(targets) - 1) / 2) * width, max(v, 0)),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=7,
            )
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def residual_analysis(resid: np.ndarray, lags_ms: np.ndarray, acfs: dict, parts: dict):
    """Residual histogram (log counts, Gaussian of equal variance), residual autocorrelation, and the head's parts; returns the figure."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    r = np.ravel(resid)
    bins = np.linspace(np.percentile(r, 0.01), np.percentile(r, 99.99), 120)
    axes[0].hist(r, bins, color="0.4", density=True, label="CNN-LSTM residuals")
    g = np.exp(-0.5 * (bins / r.std()) ** 2) / (r.std() * np.sqrt(2 * np.pi))
    axes[0].plot(bins, g, color=EXC_COLOR, label="Gaussian, same SD")
    axes[0].set_yscale("log")
    axes[0].set_ylim(max(1e-5, g.max() * 1e-5), None)
    axes[0].set_xlabel("target - forecast (z units)")
    axes[0].set_ylabel("density")
    axes[0].legend(frameon=False, fontsize=8, loc="lower center")
    for name, values in acfs.items():
        axes[1].plot(lags_ms, values, marker="o", ms=3, label=name)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("lag (ms)")
    axes[1].set_ylabel("residual autocorrelation")
    axes[1].legend(frameon=False, fontsize=8)
    _r2_bars(axes[2], parts)
    fig.tight_layout()
    return fig


def _r2_bars(ax, r2_by_variant: dict) -> None:
    """Draws horizontal R^2 bars (first variant black, the rest grey) with their values on ax."""
    names = list(r2_by_variant)
    vals = [r2_by_variant[k] for k in names]
    ax.barh(range(len(names)), vals, color=["k"] + ["0.55"] * (len(names) - 1))
    for y, v in enumerate(vals):
        ax.annotate(f"{v:.3f}", (max(v, 0), y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test R² (1 ms)")
    ax.set_xlim(min(0, min(vals)) - 0.05, max(1, max(vals) + 0.15))


def explorer(
    t_ms: np.ndarray,
    traces: dict,
    neuron: int,
    horizon_ms: float,
    title: str = "",
    same_mv: float = 1e-3,
    r2: dict | None = None,
    bands: dict | None = None,
    band_label: str = "band",
):
    """One neuron's voltage and its forecasts over the chosen window (06's explorer); returns the figure.

    traces: {name: mV [b]} with "truth" first. Forecasts within same_mv of each other everywhere are one
    line whose label says so ("CNN-LSTM direct = rollout at 1 ms"), so no line hides another unnamed.
    r2: {name: R^2 on the shown span}, written into the legend; bands: {name: (low, high) mV [b]}, a
    shaded band around that forecast in its colour (the oracle's spread), named "<name>: <band_label>".
    The legend sits right of the axes, off the traces.
    """
    r2, bands = r2 or {}, bands or {}
    groups: list[tuple[list[str], np.ndarray]] = []  # (names, values): forecasts that coincide share one entry
    for name, v in traces.items():
        same = next(
            (
                g
                for g in groups
                if name != "truth" and g[0][0] != "truth" and np.allclose(g[1], v, rtol=0, atol=same_mv)
            ),
            None,
        )
        if same:
            same[0].append(name)
        else:
            groups.append(([name], np.asarray(v)))
    fig, ax = plt.subplots(figsize=(10, 3.4), layout="constrained")
    for k, (names, v) in enumerate(groups):
        label = names[0] if len(names) == 1 else f"{_joined(names)} at {horizon_ms:g} ms"
        if names[0] in r2:
            label += f" (R² {r2[names[0]]:.3f})"
        style: dict[str, Any] = (
            {"color": "k", "lw": 2}
            if names[0] == "truth"
            else {"color": "0.55", "lw": 1, "ls": "--"}
            if names[0] == "persistence"
            else {"color": f"C{k}", "lw": 1.2}
        )
        line = ax.plot(t_ms, v, label=label, **style)[0]
        for name in names:
            if name in bands:
                lo, hi = bands[name]
                ax.fill_between(t_ms, lo, hi, color=line.get_color(), alpha=0.18, lw=0, label=f"{name}: {band_label}")
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_xlabel("time in the run (ms)")
    ax.set_ylabel(f"v of neuron {neuron} (mV)")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _joined(names: list) -> str:
    """'CNN-LSTM direct = rollout': the names joined by '=', each after the first without the words all share."""
    words = [n.split() for n in names]
    shared = 0
    while all(len(w) > shared + 1 and w[shared] == words[0][shared] for w in words):
        shared += 1
    return " = ".join([names[0]] + [" ".join(w[shared:]) for w in words[1:]])


# ---------------------------------------------------------------- the training-budget study (notebook 05)


def budget_curves(curves: dict, labels: dict, references: dict, extrapolations: dict, source_budget: float):
    """Test R^2 against training window-passes (log), per model and protocol, with 95 % intervals.

    curves: {model: {protocol: {budget: {"r2", "r2_ci"}}}}; references: {label: R^2} drawn as lines;
    extrapolations: {(model, protocol): budget.extrapolate(...)} drawn dashed up to the source's budget,
    which is marked; the fitted part right of the largest measured budget is an extrapolation.
    """
    from voltlib.paper.budget import saturating

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True)
    colors = dict(zip(curves, ("C0", "C1", "C2", "C3")))
    for ax, protocol in zip(axes, ("clean", "original")):
        for model, by_protocol in curves.items():
            points = by_protocol.get(protocol, {})
            if not points:
                continue
            b = np.array(sorted(points), float)
            r2 = np.array([points[k]["r2"] for k in sorted(points)])
            ci = np.array([points[k]["r2_ci"] for k in sorted(points)], float).T
            ax.errorbar(
                b, r2, yerr=np.abs(ci - r2), marker="o", ms=4, capsize=2, color=colors[model], label=labels[model]
            )
            ext = extrapolations.get((model, protocol))
            if ext is not None:
                xs = np.geomspace(b.min(), source_budget, 60)
                ax.plot(xs, saturating(xs, ext["r2_inf"], ext["a"], ext["b"]), ls="--", lw=1, color=colors[model])
        if protocol == "clean":
            for (label, value), ls in zip(references.items(), (":", "-.", (0, (5, 1)))):
                ax.axhline(value, color="0.4", ls=ls, lw=1)
                ax.annotate(
                    label, (0.01, value), xycoords=("axes fraction", "data"), va="bottom", fontsize=7, color="0.35"
                )
        ax.axvline(source_budget, color="0.6", lw=0.8)
        ax.annotate(
            "source's budget",
            (source_budget, 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.45",
        )
        ax.set_xscale("log")
        ax.set_xlabel("training window-passes")
        ax.set_title(f"{protocol} protocol", fontsize=10)
    axes[0].set_ylabel("test R² (1 ms ahead)")
    axes[1].legend(frameon=False, fontsize=7, loc="best")
    fig.tight_layout()
    return fig
