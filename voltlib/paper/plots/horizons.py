"""R² and gain share against the forecast horizon, drawn by notebooks 06 and 08 (and `make forecast`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import (  # noqa: F401
    CEILING_COLOR,
    EXC_COLOR,
    INH_COLOR,
    save_figure,
)


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
    ax.xaxis.set_minor_formatter(NullFormatter())  # under a decade, log minor ticks are labelled "2×10⁰"
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
