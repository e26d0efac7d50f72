"""Notebook 05's figures: the ladder's training curves, its R² beside the references, the training-budget study."""

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
