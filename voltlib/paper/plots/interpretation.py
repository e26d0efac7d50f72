"""Notebook 07's figures: the CNN's filters, permutation importance, sensitivities, the LSTM's states, residuals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# save_figure and the colours, for the notebook that draws with this module (`plots.save_figure`)
from voltlib.paper.plots.style import (  # noqa: F401
    CEILING_COLOR,
    EXC_COLOR,
    INH_COLOR,
    _ei_axis,
    save_figure,
)


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
    newest = len(trained["conv1"]["by_input_step"]) - 1  # the window's last sample: 149 in a 150-sample window
    fig.axes[0].set_ylabel(f"input channel = time step of the window ({newest} = newest)")
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
    ax.set_xlabel(f"input channel (time step; {newest} = newest)")
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
