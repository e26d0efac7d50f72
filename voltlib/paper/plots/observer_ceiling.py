"""Notebook 10's figures: the filter's convergence, the two ceilings beside the learned forecaster, the
forecasts as distributions (PIT histograms and one near-threshold example)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

# save_figure, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.horizons import r2_vs_horizon
from voltlib.paper.plots.style import CEILING_COLOR, save_figure  # noqa: F401

GAP_COLORS = ("#16a085", "#e67e22")  # what the recording hides (the oracle's colour), what learning leaves
SHORT = {  # two lines at most: the PIT rows are 1.3 inches high
    "oracle": "oracle",
    "observer": "observer,\ninferred wiring",
    "observer_true_wiring": "observer,\ntrue wiring",
    "quantile_member": "member quantiles,\nseed 0",
    "quantile_seeds": "member quantiles,\nseeds pooled",
    "persistence": "persistence\n+ residuals",
}
COLORS = {
    "oracle": CEILING_COLOR,
    "observer": "#8e44ad",
    "observer_true_wiring": "#d2b4de",
    "quantile_member": "#f5b041",
    "quantile_seeds": "#d35400",
    "persistence": "0.5",
    "learned": "#e67e22",
}


def convergence(check: dict):
    """The observer's 1-ms mean squared error (z) against particles per neuron and against burn-in (ms)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.0), sharey=True)
    for ax, key, label, log in (
        (axes[0], "particles", "particles per neuron", True),
        (axes[1], "burn_in_ms", "burn-in (ms of recording read before the origin)", False),
    ):
        x = np.array([float(k) for k in check[key]])
        y = np.array(list(check[key].values()))
        ax.plot(x, y, "o-", color=COLORS["observer"])
        if log:
            ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.set_xlabel(label)
    axes[0].set_ylabel("1-ms squared error (z)")
    fig.suptitle(f"the observer's estimate as the filter grows ({check['starts']} start times)", fontsize=9)
    fig.tight_layout()
    return fig


def ceilings(horizons_ms, rows: dict, styles: dict, gaps: dict):
    """Left: R² against horizon with a 95 % band for each row {label: {horizon key: (r2, ci)}}, styles {label:
    color}. Right: the paired gaps {label: {horizon key: {"difference", "ci"}}} with their 95 % intervals."""
    fig, (ax, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.25, 1]})
    h = np.asarray(horizons_ms, float)
    curves = {}
    for label, cells in rows.items():
        values = [cells[f"{x:g}"][0] for x in horizons_ms]
        cis = [_interval(cells[f"{x:g}"][1]) for x in horizons_ms]
        curves[label] = (values, {"color": styles.get(label)})
        if all(np.isfinite(ci).all() for ci in cis):
            ci = np.asarray(cis, float)
            ax.fill_between(h, ci[:, 0], ci[:, 1], color=styles.get(label), alpha=0.15, lw=0)
    low = min(min(v for v, _ in c.values()) for c in rows.values())
    r2_vs_horizon(horizons_ms, curves, ylim=(max(-1.0, min(0.0, low) - 0.05), 1.0), ax=ax)
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    for k, (label, cells) in enumerate(gaps.items()):
        d = np.array([cells[f"{x:g}"]["difference"] for x in horizons_ms], float)
        ci = np.array([_interval(cells[f"{x:g}"]["ci"]) for x in horizons_ms])
        x = h * (1 + 0.06 * (k - (len(gaps) - 1) / 2))  # side by side on the log axis
        err = np.abs(ci.T - d[None, :])
        right.errorbar(
            x,
            d,
            yerr=np.where(np.isfinite(err), err, 0.0),
            fmt="o-",
            ms=4,
            capsize=2,
            label=label,
            color=GAP_COLORS[k % len(GAP_COLORS)],
        )
    right.axhline(0, color="0.6", lw=0.8)
    right.set_xscale("log")
    right.set_xticks(h, [f"{v:g}" for v in h])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("horizon (ms)")
    right.set_ylabel("difference of R² (paired, 95 % CI)")
    right.legend(frameon=False, fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def _interval(ci) -> np.ndarray:
    """An interval (lo, hi) as floats, NaN where it is absent (None, or a bound None in JSON)."""
    return np.array([np.nan, np.nan] if ci is None else [np.nan if v is None else v for v in ci], float)


def pit_histograms(horizons_ms, scores: dict, labels: dict):
    """PIT histograms (density; a calibrated forecast is flat at 1) per forecaster (rows) and horizon (columns)."""
    names = list(scores)
    fig, axes = plt.subplots(
        len(names),
        len(horizons_ms),
        figsize=(1.6 * len(horizons_ms) + 1, 1.3 * len(names)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for i, name in enumerate(names):
        for j, h in enumerate(horizons_ms):
            hist = np.asarray(scores[name][f"{h:g}"]["pit_histogram"])
            edges = np.linspace(0, 1, len(hist) + 1)
            ax = axes[i, j]
            ax.bar(edges[:-1], hist, width=np.diff(edges), align="edge", color=COLORS.get(name, "0.4"))
            ax.axhline(1.0, color="k", lw=0.7, ls=":")
            if i == 0:
                ax.set_title(f"{h:g} ms", fontsize=8)
            if j == 0:
                ax.set_ylabel(SHORT.get(name, name), fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("PIT", fontsize=8)
    top = max(1.0, float(max(max(np.max(s[f"{h:g}"]["pit_histogram"]) for h in horizons_ms) for s in scores.values())))
    axes[0, 0].set_ylim(0, min(max(2.0, top * 1.05), 8.0))
    fig.tight_layout()
    return fig


def example(ex: dict, labels: dict):
    """One near-threshold forecast 1 ms ahead: each forecaster's predictive distribution (mV) and the recorded value."""
    names = [n for n in labels if n in ex["members_mv"]]
    fig, axes = plt.subplots(len(names), 1, figsize=(6.5, 1.2 * len(names) + 0.6), sharex=True, squeeze=False)
    values = np.concatenate([np.asarray(ex["members_mv"][n]) for n in names] + [[ex["recorded_mv"]]])
    bins = np.linspace(values.min() - 0.5, values.max() + 0.5, 50)
    for ax, name in zip(axes[:, 0], names):
        ax.hist(ex["members_mv"][name], bins=bins, color=COLORS.get(name, "0.4"), density=True)
        ax.axvline(ex["recorded_mv"], color="k", lw=1.2, ls="--")
        ax.set_yticks([])
        ax.set_ylabel(SHORT.get(name, name), fontsize=7, rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel(f"v {ex['horizon_ms']:g} ms ahead (mV); dashed: the recorded value")
    fig.suptitle(f"neuron {ex['neuron']} of test run {ex['run']} at {ex['sample']} ms: near threshold", fontsize=9)
    fig.tight_layout()
    return fig
