# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3.11 (voltlib)
#     language: python
#     name: voltlib
# ---

# %% [markdown]
# # 2. The data: windows, two protocols, and the baselines any forecaster must beat
#
# The task (Methods section 3, as the source's code has it): from the z-scored voltages of all 100
# neurons over a window of 150 samples (150 ms at 1 ms), predict every neuron's voltage one sample
# (1 ms) after the window. Windows start every 15 samples, so neighbours overlap by 90 %.
# We cut the data twice: **original**, the source's pipeline (all runs concatenated, windows
# shuffled into train / val / test), and **clean**, split by whole runs with training-only
# statistics (Methods section 4). Both drop each run's first 800 ms and add seeded N(0, 0.2 mV)
# measurement noise. Then we ask how far the simplest forecasts get, at 1, 2, 5, 10 and 20 ms ahead.

# %% tags=["parameters"]
profile = "smoke"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from voltlib import paths
from voltlib.config import PROTOCOLS, SOURCE_R2, notebook_profile
from voltlib.display import frame, name
from voltlib.forecast.baselines import BASELINES, baseline_table, table_frame
from voltlib.forecast.data import SOURCE_WINDOW_COUNTS, make_dataset, protocol_summary
from voltlib.paper import prose, wording
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import style as plots
from voltlib.paper.summary import best_baseline
from voltlib.sim.simulate import simulate
from voltlib.store import horizon_key, write_json

cfg = notebook_profile(profile)
require_inputs(profile, "02_dataset")
sim = simulate(cfg.sim, progress=False)
datasets = {p: make_dataset(sim, cfg.data, p) for p in PROTOCOLS}
Markdown(prose.render("dataset_size", n_runs=sim.n_runs, sim=cfg.sim, data=cfg.data, kept=datasets["clean"].kept_samples))

# %% [markdown]
# ## How a window is cut
# A window is 150 consecutive samples of all neurons; its target is the sample right after it.
# The next window starts 15 samples later. Nothing is copied: a window is a start index into one
# stored series, and a batch is gathered from it on demand (30,657 copied windows would be 1.8 GB).

# %%
ds, neuron, stride = datasets["clean"], 0, cfg.data.stride
t_ms = np.arange(4 * stride + cfg.data.window + 20) * cfg.sim.record_dt_ms
v_mv = ds.train.series[: len(t_ms), neuron].numpy() * ds.std_mv[neuron] + ds.mean_mv[neuron]
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(t_ms, v_mv, color="0.3", lw=0.9)
for k, s in enumerate(ds.train.starts[:4]):
    y0 = v_mv.min() - 1.2 * (k + 1)
    ax.plot([t_ms[s], t_ms[s + ds.train.window - 1]], [y0, y0], lw=4, color=plots.EXC_COLOR, alpha=0.7)
    tgt = s + ds.train.window - 1 + ds.train.horizon
    ax.plot(t_ms[tgt], v_mv[tgt], "o", color=plots.INH_COLOR, ms=5)
ax.set(xlabel="time in run (ms)", ylabel="v of neuron 0 (mV)",
       title="the first 4 windows of a run (bars: 150-sample inputs, dots: their 1-ms targets)")
plots.save_figure(fig, profile, "dataset_windows.png");

# %% [markdown]
# ## Split sizes under each protocol
# The original protocol reproduces the source's counts exactly at the paper's scale (50 runs x 10 s).
# Its window starts are the source's `range(0, T - 151, 15)`, which leaves out the last valid start;
# the windows are shuffled with seed 42 and split 70 / 15 / 15 %. The clean protocol shuffles whole
# runs instead (35 / 7 / 8 of 50) and cuts every window inside one run (Methods section 4).

# %%
summary = {p: protocol_summary(d) for p, d in datasets.items()}
sizes = pd.DataFrame({
    **{f"{p} windows": [summary[p][f"n_{k}_windows"] for k in ("train", "val", "test")] for p in PROTOCOLS},
    **{f"{p} runs": [summary[p][f"n_{k}_runs"] for k in ("train", "val", "test")] for p in PROTOCOLS},
    "source windows (50 x 10 s)": list(SOURCE_WINDOW_COUNTS.values()),
}, index=["train", "val", "test"])
frame(sizes)

# %% [markdown]
# ## Why a random split of 90 %-overlapping windows leaks
# A sample belongs to 10 windows. Shuffling windows into splits puts, for almost every test
# window, training windows that share most of its input and contain its target sample as an input.

# %%
leak_rows = ["frac_test_targets_inside_a_train_input", "frac_test_windows_overlapping_train",
             "mean_samples_shared_with_nearest_train", "frac_test_runs_seen_in_training",
             "n_train_windows_spanning_two_runs"]
leak = pd.DataFrame({p: [summary[p][k] for k in leak_rows] for p in PROTOCOLS}, index=leak_rows)
o = summary["original"]
display(frame(leak, row_specs={"mean_samples_shared_with_nearest_train": ".1f",
                                "n_train_windows_spanning_two_runs": ",.0f"}))
Markdown(prose.render("dataset_leak", o=o, window=cfg.data.window))

# %% [markdown]
# ## Normalisation
# Each neuron is z-scored with its own mean and standard deviation (mV), over all data (original)
# or over the training runs only (clean). The statistics are kept, so every error can be given in
# mV: one z unit is one neuron's standard deviation.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, key, label in ((axes[0], "mean_mv", "mean (mV)"), (axes[1], "std_mv", "standard deviation (mV)")):
    for p, marker in zip(PROTOCOLS, ("o", "x")):
        ax.plot(getattr(datasets[p], key), marker, ms=3, label=p, alpha=0.7)
    ax.axvline(datasets["clean"].n_exc - 0.5, color="0.6", ls=":")
    ax.set(xlabel="neuron (0-79 E, 80-99 I)", ylabel=label)
axes[0].legend(frameon=False)
plots.save_figure(fig, profile, "dataset_normalisation.png");
c = datasets["clean"]
Markdown(prose.render("normalisation", **wording.normalisation_fields(c.mean_mv, c.std_mv)))

# %% [markdown]
# ## Baselines
# On the same windows the models see, fitted on training windows, lags and ridge strength chosen on
# validation windows, scored on test windows (direct forecasts, one fit per horizon):
# **training mean** (0 in z), **persistence** (the window's last value), **AR per neuron** (ridge
# regression of each neuron on its own last p samples), **population ridge** (each neuron from all
# neurons' last p samples) and **boosted trees** (gradient-boosted trees on a neuron's own last few
# samples in mV, shared by
# all neurons, no input from other neurons). Lags and penalties searched: Methods section 7.

# %%
t0 = time.perf_counter()
table = baseline_table(sim, cfg.data, PROTOCOLS, cfg.data.horizons_ms)
baseline_s = time.perf_counter() - t0
Markdown(f"All baselines, both protocols, {len(cfg.data.horizons_ms)} horizons: {baseline_s:.0f} s.")

# %% [markdown]
# Pooled R² on the test windows (1 - SSE/SST over all neurons and windows, the source's definition;
# Methods section 8):

# %%
frame(table_frame(table, "r2"))

# %% [markdown]
# Root-mean-square error in mV (each neuron's z error times its standard deviation):

# %%
frame(table_frame(table, "rmse_mv"), ".2f")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for ax, p in zip(axes, PROTOCOLS):
    for base in BASELINES[1:]:
        r2 = [table[p][base][horizon_key(h)]["r2"] for h in cfg.data.horizons_ms]
        ax.plot(cfg.data.horizons_ms, r2, "o-", label=name(base))
    for phase in ("phase1_lstm", "phase4_cnn_lstm"):
        ax.axhline(SOURCE_R2[phase], color="0.5", ls="--", lw=0.8)
        ax.text(20, SOURCE_R2[phase], f"source phase {phase[5]} at 1 ms ({SOURCE_R2[phase]})",
                ha="right", va="bottom", fontsize=8)
    ax.set(xscale="log", xlabel="horizon (ms)", title=f"{p} protocol", ylim=(-0.2, 1))
axes[0].set_ylabel("test R² (pooled)")
axes[1].legend(frameon=False, fontsize=8)
plots.save_figure(fig, profile, "baselines_by_horizon.png");

# %% [markdown]
# ## Where the source's numbers sit

# %%
r2_1ms = {b: table["clean"][b][horizon_key(1)]["r2"] for b in BASELINES}
best, _ = best_baseline(table, "clean")
Markdown(prose.render("baselines_vs_source", profile=profile, **wording.source_vs_baselines(r2_1ms, best, SOURCE_R2)))

# %%
results_dir = paths.results_dir(profile)
write_json(results_dir / "baselines.json", table)
write_json(results_dir / "dataset.json", {
    "protocols": summary, "source_window_counts": SOURCE_WINDOW_COUNTS,
    "n_runs": sim.n_runs, "kept_samples_per_run": datasets["clean"].kept_samples,
    "clean_runs": {k: v.tolist() for k, v in datasets["clean"].runs.items()},
    "mean_mv": {p: datasets[p].mean_mv for p in PROTOCOLS},
    "std_mv": {p: datasets[p].std_mv for p in PROTOCOLS},
    "baseline_wall_s": baseline_s,
})
Markdown(f"Wrote `{(results_dir / 'baselines.json').relative_to(paths.ROOT)}` and "
         f"`{(results_dir / 'dataset.json').relative_to(paths.ROOT)}`.")
