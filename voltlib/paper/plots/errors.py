"""Notebook 06's figures: errors by neuron and in time, and the interactive explorer's plot."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from voltlib.paper.plots.horizons import gain_share_bars, r2_vs_horizon  # noqa: F401

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import (  # noqa: F401
    CEILING_COLOR,
    EXC_COLOR,
    INH_COLOR,
    _ei_axis,
    save_figure,
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
