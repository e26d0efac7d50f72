"""Notebook 09's figures: each network state's spikes and population rhythm, and its forecasts by horizon."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from voltlib.display import name
from voltlib.paper.plots.horizons import r2_vs_horizon

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import EXC_COLOR, INH_COLOR, save_figure  # noqa: F401
from voltlib.store import horizon_key

MEMBER_COLOR = "k"  # notebook 08's best staircase member
# the baselines drawn per state, each in one colour in every panel
BASELINE_COLORS = {
    "persistence": "0.45",
    "ar_ridge": "#8e44ad",
    "population_ridge": "#d68910",
    "own_lags_boosting": "#1e8449",
}


def state_portraits(examples: dict, fmin_hz: float = 5.0):
    """One row per state {title: example of across_states.example}: 100 neurons' spikes over the example's span
    with the population rate beneath them (left), and the population rate's power spectrum (right, log)."""
    rows = len(examples)
    fig = plt.figure(figsize=(9.5, 2.3 * rows))
    outer = fig.add_gridspec(rows, 2, width_ratios=[3, 1.3], hspace=0.45, wspace=0.25)
    for k, (title, ex) in enumerate(examples.items()):
        left = outer[k, 0].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
        ax_r = fig.add_subplot(left[0])
        ax_p = fig.add_subplot(left[1], sharex=ax_r)
        ax_s = fig.add_subplot(outer[k, 1])
        exc = ex["spike_i"] < ex["n_exc"]
        for sel, color in ((exc, EXC_COLOR), (~exc, INH_COLOR)):
            ax_r.plot(ex["spike_t_ms"][sel], ex["spike_i"][sel], "|", ms=2.5, mew=0.6, color=color)
        ax_r.set_ylim(-1, 100)
        ax_r.set_ylabel("neuron")
        shown = "" if ex["n_neurons"] <= 100 else f" (neurons 0-99 of {ex['n_neurons']:,}, all excitatory)"
        ax_r.set_title(title + shown, loc="left", fontsize=10)
        ax_r.tick_params(labelbottom=False)
        ax_p.plot(ex["t_ms"], ex["rate_hz"], color="k", lw=0.7)
        ax_p.set_ylabel("Hz", fontsize=8)
        band = ex["freqs_hz"] >= fmin_hz
        ax_s.semilogy(ex["freqs_hz"][band], ex["power"][band], color="k", lw=0.8)
        peak = np.argmax(ex["power"][band])
        ax_s.plot(ex["freqs_hz"][band][peak], ex["power"][band][peak], "o", ms=4, color="#c0392b")
        ax_s.set_ylabel("power", fontsize=8)
        last = k == rows - 1
        ax_p.tick_params(labelbottom=last)
        ax_s.tick_params(labelbottom=last)
        if last:
            ax_p.set_xlabel("time (ms)")
            ax_s.set_xlabel("frequency of the population rate (Hz)")
    fig.suptitle("Spikes of 100 neurons, the population rate (1 ms bins) and its spectrum, by state", x=0.01, ha="left")
    return fig


def _panel_row(n: int, height: float):
    """A row of n panels sharing the R^2 axis."""
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 1.8, height), sharey=True, squeeze=False)
    return fig, list(axes[0])


def _band(ax, h, cis, color, alpha: float) -> None:
    """A 95 % interval [(lo, hi) per horizon] as a band."""
    ci = np.array(cis, float)
    ax.fill_between(h, ci[:, 0], ci[:, 1], color=color, alpha=alpha, lw=0)


def _finish_row(fig, axes, titles) -> None:
    """Titles each panel; one legend (the last panel's) and one R^2 label (the first's) for the row."""
    for ax, title in zip(axes, titles):
        ax.set_title(title, loc="left", fontsize=10)
    for ax in axes[:-1]:
        ax.get_legend().remove()
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()


def forecasts_by_state(
    horizons_ms, forecasts: dict, titles: dict, ceilings: dict | None = None, members: dict | None = None
):
    """One panel per state: test R^2 against horizon for each baseline of BASELINE_COLORS, with its 95 % interval
    over test runs as a band, and where given the state's ceiling (band: its interval) and a staircase member
    (members {state: (label, {horizon key: {r2, r2_ci}})}). forecasts: {state: {baseline: {horizon key: metrics}}}
    (across_states.split), titles {state: title}, ceilings {state: ceiling.json layout}."""
    keys = list(forecasts)
    fig, axes = _panel_row(len(keys), 3.5)
    h = np.asarray(horizons_ms, float)
    hk = [horizon_key(x) for x in horizons_ms]
    for ax, key in zip(axes, keys):
        table = forecasts[key]
        curves: dict[str, tuple[list, dict]] = {
            name(b): ([table[b][k]["r2"] for k in hk], {"color": c}) for b, c in BASELINE_COLORS.items()
        }
        bands = {c: [table[b][k]["r2_ci"] for k in hk] for b, c in BASELINE_COLORS.items()}
        if members and key in members:
            label, scores = members[key]
            curves[label] = ([scores[k]["r2"] for k in hk], {"color": MEMBER_COLOR, "lw": 2})
            bands[MEMBER_COLOR] = [scores[k]["r2_ci"] for k in hk]
        ceiling = (ceilings or {}).get(key)
        r2_vs_horizon(
            horizons_ms,
            curves,
            ceiling=None if ceiling is None else ceiling["ceiling_r2"],
            ceiling_ci=None if ceiling is None else ceiling["ceiling_r2_ci"],
            ylim=(-1.2, 1.0),
            ax=ax,
        )
        for color, cis in bands.items():
            _band(ax, h, cis, color, 0.18)
    _finish_row(fig, axes, [titles[k] for k in keys])
    return fig


def transfer(horizons_ms, panels: dict, colors: dict | None = None, ncols: int | None = None):
    """One panel per transfer {title: {horizon key: {r2, r2_ci, own_r2, own_r2_ci}}}: test R^2 against horizon of
    the forecaster trained where it is tested (solid) and trained in another state (dashed), each with its 95 %
    interval over test runs as a band. colors {title: colour} (default: the boosted trees'); ncols panels a row
    (default: all in one row), each row with its own legend."""
    n = len(panels)
    ncols = min(ncols or n, n)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(2.6 * ncols + 1.8, 3.3 * nrows), sharey=True, squeeze=False)
    h = np.asarray(horizons_ms, float)
    hk = [horizon_key(x) for x in horizons_ms]
    axes = list(grid.flat)
    for ax, (title, by_h) in zip(axes, panels.items()):
        color = (colors or {}).get(title, BASELINE_COLORS["own_lags_boosting"])
        curves = {
            "trained in this state": ([by_h[k]["own_r2"] for k in hk], {"color": color}),
            "trained in the other state": ([by_h[k]["r2"] for k in hk], {"color": color, "ls": "--", "marker": "s"}),
        }
        r2_vs_horizon(horizons_ms, curves, ylim=(-1.2, 1.0), ax=ax)
        for key, alpha in (("own_r2_ci", 0.2), ("r2_ci", 0.1)):
            _band(ax, h, [by_h[k][key] for k in hk], color, alpha)
    for ax in axes[n:]:
        ax.set_visible(False)
    titles = list(panels)
    for r in range(nrows):
        _finish_row(fig, axes[r * ncols : min((r + 1) * ncols, n)], titles[r * ncols :])
    return fig
