"""Notebook 08's figures: the staircase of forecasters against the ceiling, and the recovery of the wiring."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np

from voltlib.forecast.staircase import MEMBER_LABELS
from voltlib.paper.plots.horizons import gain_share_bars, r2_vs_horizon  # noqa: F401

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import (  # noqa: F401
    CEILING_COLOR,
    EXC_COLOR,
    INH_COLOR,
    save_figure,
)
from voltlib.paper.summary import best_baseline, ceiling_at
from voltlib.store import horizon_key

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


def staircase_figure(horizons_ms, scores: dict, baselines_clean: dict, ceiling: dict):
    """staircase() of the staircase's scores (staircase_scores.score by member): each member's R² and gain
    share by horizon beside the best baseline at each horizon, persistence and the ceiling."""
    hk = [horizon_key(h) for h in horizons_ms]
    by_label = {MEMBER_LABELS[k]: s for k, s in scores.items()}
    shares = {label: [s[x]["gain_share"] for x in hk] for label, s in by_label.items()}
    share_cis = {label: [s[x]["gain_share_ci"] for x in hk] for label, s in by_label.items()}
    styles = dict(zip(by_label, STAIRCASE_STYLES))
    curves = {label: ([s[x]["r2"] for x in hk], styles[label]) for label, s in by_label.items()}
    best = [best_baseline({"clean": baselines_clean}, "clean", h)[0] for h in horizons_ms]
    curves["best baseline"] = ([baselines_clean[b][x]["r2"] for b, x in zip(best, hk)], {"color": "k", "ls": ":"})
    curves["persistence"] = ([baselines_clean["persistence"][x]["r2"] for x in hk], {"color": "0.6", "ls": "--"})
    ceil = [ceiling_at(ceiling, h) for h in horizons_ms]
    colors = {label: style["color"] for label, style in styles.items()}
    return staircase(horizons_ms, curves, shares, share_cis, [c[0] for c in ceil], [c[1] for c in ceil], colors)


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
