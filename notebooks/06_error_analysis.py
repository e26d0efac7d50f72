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
# # 6. Error analysis: where, when and how far ahead the CNN-LSTM fails
#
# The source's report says its final model performs consistently across all 100 neurons, with no
# bias between excitatory and inhibitory cells, errors independent of connectivity, and stable
# accuracy over time with "effective handling of voltage transitions". None of this was computed by
# its code. Here each claim gets a number, on the **clean protocol** (test runs never seen in
# training): per neuron and per horizon, around spikes, against the voltage, several steps ahead,
# and against the ceiling of what any forecaster can reach.

# %% tags=["parameters"]
profile = "smoke"
device = None

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from voltlib import display
from voltlib.config import PHASE_LABELS, ms_to_samples
from voltlib.forecast import fits
from voltlib.forecast.ceiling import compute_ceiling
from voltlib.forecast.metrics import evaluate, gain_floor, gain_share, gain_share_interval
from voltlib.forecast.train import predict
from voltlib.paper import analysis, prose, wording
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import errors as plots
from voltlib.paper.summary import floor_baseline
from voltlib.store import horizon_key, read_json, update_json, write_json

t_start = time.perf_counter()
require_inputs(profile, "06_error_analysis")
S = analysis.setup(profile, device, all_horizons=True)     # the clean datasets at every horizon
cfg, dev, sim, datasets, ds1, results = S.cfg, S.device, S.sim, S.datasets, S.ds1, S.results
n_exc, n, dt_ms, kept, discard = S.n_exc, S.n, S.dt_ms, S.kept, S.discard
horizons_ms, h_samples = S.horizons_ms, S.h_samples

# %% [markdown]
# ## The models: one CNN-LSTM per horizon
# The 1-ms model is notebook 05's (same configuration, loaded from the cache). For each longer
# horizon h, the same architecture and schedule are trained directly on targets h ms after the
# window ("direct" forecasting; Methods section 3).

# %% tags=["nbval-ignore-output"]
direct, train_info = {}, {}
for h, hs in zip(horizons_ms, h_samples):
    name = "phase4_cnn_lstm" if hs == cfg.data.horizon else f"phase4_cnn_lstm_h{h:g}ms"
    direct[h], info = fits.load(cfg, name, datasets[hs], dev)
    train_info[h] = {"train_s": info["train_s"], "epochs": info["epochs"], "cached": info["cached"]}
Markdown(", ".join(f"{h:g} ms: {'cached' if v['cached'] else 'trained now'} ({v['epochs']} epochs, {v['train_s']:.0f} s)"
                   for h, v in train_info.items()) + ".")

# %%
full, preds = {}, {}
for h, hs in zip(horizons_ms, h_samples):
    test = datasets[hs].test
    preds[h] = predict(direct[h], test, dev)
    full[h] = evaluate(test.targets(), preds[h], ds1.std_mv, n_exc, y_persist_z=test.last_values(),
                       run_of_sample=test.run_of_window)
pred1 = preds[horizons_ms[0]]
display.frame(pd.DataFrame({f"{h:g} ms": {k: full[h][k] for k in display.METRIC_NAMES} for h in horizons_ms}))

# %% [markdown]
# ## Error per neuron and per horizon

# %%
r2_by_h = np.array([full[h]["r2_per_neuron"] for h in horizons_ms])
rmse_by_h = np.array([analysis.rmse_mv_per_neuron(preds[h], datasets[hs].test.targets(), ds1.std_mv)
                      for h, hs in zip(horizons_ms, h_samples)])
fig = plots.neuron_heatmap(r2_by_h, rmse_by_h, horizons_ms, n_exc)
plots.save_figure(fig, profile, "neuron_performance_heatmap.png");

# %%
r2_1 = r2_by_h[0]
spread = {"min": float(r2_1.min()), "max": float(r2_1.max()), "sd": float(r2_1.std(ddof=1))}
Markdown(prose.render("neuron_spread", spread=spread, n=n, h_last=horizons_ms[-1], mean_last=r2_by_h[-1].mean()))

# %% [markdown]
# ## Neurons ranked, excitatory against inhibitory, and what predicts a neuron's error
# Each test run has its own random graph and its own firing rates, so rate and in-degree are
# properties of a (run, neuron) pair: we score every neuron in every test run separately.

# %%
test1 = ds1.test
ei = analysis.ei_test(r2_1, n_exc)
by_run = analysis.per_run_neuron_r2(test1.targets(), pred1, test1.run_of_window)
test_runs = sorted(by_run)
r2_rn = np.array([by_run[r] for r in test_runs])
rate_rn, indeg_rn = analysis.rates_and_in_degrees(sim, test_runs, discard)
rho_rate, rho_deg = analysis.spearman(rate_rn, r2_rn), analysis.spearman(indeg_rn, r2_rn)
fig = plots.neuron_ranking(r2_1, n_exc, ei, r2_rn, rate_rn, indeg_rn, rho_rate, rho_deg)
plots.save_figure(fig, profile, "neuron_ranking.png");

# %%
Markdown(prose.render("neuron_bias", ei=ei, ei_differs=wording.ei_differs(ei), rho_deg=rho_deg, rho_rate=rho_rate,
                      driver=wording.error_driver(rho_rate, rho_deg)))

# %% [markdown]
# ## When the error happens: spikes, voltage, time
# A sample at time t shows a spike only if it happened before t. A spike after the window's last
# input sample and before the target is a -20 mV reset that no input announced.

# %%
since, until = analysis.split_spike_clock(sim, test1, kept)
y1 = test1.targets()
sq = {"CNN-LSTM": (pred1 - y1) ** 2, "persistence": (test1.last_values() - y1) ** 2}
v_mv = y1 * ds1.std_mv + ds1.mean_mv
t_s = analysis.target_samples(test1, kept, discard)[1] * dt_ms / 1000
prof = {k: analysis.error_profiles(e, since, until, v_mv, t_s) for k, e in sq.items()}
RESET_MS = cfg.analysis.reset_ms
reset = analysis.reset_share(sq["CNN-LSTM"], since, RESET_MS)
unseen = analysis.reset_share(sq["CNN-LSTM"], since, horizons_ms[0])
fig = plots.temporal_patterns(prof, horizons_ms[0], reset)
plots.save_figure(fig, profile, "temporal_patterns.png");

# %%
time_mse = prof["CNN-LSTM"]["time"]["mse"]
Markdown(prose.render("error_timing", reset_ms=RESET_MS, reset=reset, unseen=unseen,
                      outsized=wording.resets_outsized(reset), mse_min=np.nanmin(time_mse), mse_max=np.nanmax(time_mse),
                      stable=wording.stable_over_time(time_mse)))

# %% [markdown]
# ## Several steps ahead: rolling out the 1-ms model vs training at the horizon
# The rollout feeds the 1-ms model its own forecasts; the direct models were trained at each horizon.
# Both are scored on the same test windows (a seeded subset, below), next to persistence on those
# windows and the baselines of notebook 02 (all test windows of each horizon).

# %%
split_max = datasets[max(h_samples)].test
# rollouts cost one forward pass per step and window: a seeded subset of test windows
idx = analysis.seeded_subset(len(split_max), cfg.analysis.rollout_windows, cfg.analysis.subset_seed)
multi = analysis.multistep(direct, split_max, horizons_ms, h_samples, idx, device=dev)
base = read_json(results / "baselines.json")["clean"]
table = pd.DataFrame({f"{h:g} ms": {"CNN-LSTM rollout": multi[h]["rollout"]["r2"], "CNN-LSTM direct": multi[h]["direct"]["r2"],
                                     "persistence (same windows)": multi[h]["persistence"]["r2"],
                                     **{f"{display.name(b)} (nb. 02)": base[b][horizon_key(h)]["r2"] for b in base}}
                      for h in horizons_ms})
display.frame(table)

# %%
curves = {"CNN-LSTM rollout": ([multi[h]["rollout"]["r2"] for h in horizons_ms], {"color": "k", "ls": "--"}),
          "CNN-LSTM direct": ([multi[h]["direct"]["r2"] for h in horizons_ms], {"color": "k", "lw": 2})}
for k, b in enumerate(base):
    curves[display.name(b)] = ([base[b][horizon_key(h)]["r2"] for h in horizons_ms], {"color": f"C{k}", "lw": 1})
fig = plots.r2_vs_horizon(horizons_ms, curves, ylim=(max(-1.0, min(min(v) for v, _ in curves.values()) - 0.05), 1.0))
fig.axes[0].set_title(f"multi-step forecasts on {len(idx):,} test windows (baselines: all windows)", loc="left")
plots.save_figure(fig, profile, "multistep_forecasting.png");

# %%
h_last = horizons_ms[-1]
Markdown(prose.render("multistep", h_last=h_last, last=multi[h_last], better=wording.direct_better(multi, horizons_ms),
                      n_beyond=len(horizons_ms) - 1))

# %% [markdown] tags=["interactive"]
# ## Explorer (JupyterLab only)
# Pick a test run, a neuron, a time window, a horizon and any of the paper's forecasters: the
# baselines, the ladder (phases 1-3 at 1 ms, the CNN-LSTM at every horizon, direct and rolled out),
# the staircase of notebook 08 and the oracle, whose band is the spread of the simulator restarted
# from its true state with fresh noise. Each one's R² on the shown span is in the legend and below
# the plot; one that cannot be shown says why (`voltlib.paper.explorer`). The headless build skips this cell.

# %% tags=["interactive"]
if not os.environ.get("VOLTLIB_HEADLESS"):
    import ipywidgets as widgets

    from voltlib.paper.explorer import BAND_LABEL, Explorer

    ex = Explorer(S)

    def show(run, neuron, t0_ms, span_ms, horizon_ms, shown):
        v = ex.view(run, neuron, ms_to_samples(t0_ms, dt_ms) - discard, ms_to_samples(span_ms, dt_ms), horizon_ms, shown)
        n_runs = len(ds1.runs["test"])
        plots.explorer(v.t_samples * dt_ms, {"truth": v.truth, **v.traces}, neuron, horizon_ms,
                       f"test run {run} (the {profile} profile has {display.count(n_runs, 'clean test run')}), "
                       f"{horizon_ms:g} ms ahead", r2=v.r2, bands=v.bands, band_label=BAND_LABEL)
        plt.show()
        print(v.summary())

    # the first target with a full window before it at every horizon, in ms from the run's start
    first_ms = int(np.ceil((discard + ds1.test.window - 1 + max(h_samples)) * dt_ms / 10) * 10)
    widgets.interact(show, run=widgets.Dropdown(options=[int(r) for r in ds1.runs["test"]], description="test run"),
                     neuron=widgets.IntSlider(0, 0, n - 1), t0_ms=widgets.IntSlider(first_ms, first_ms,
                     int(cfg.sim.duration_s * 1000) - 300, 10, description="from (ms)"),
                     span_ms=widgets.IntSlider(200, 50, 1000, 50, description="span (ms)"),
                     horizon_ms=widgets.Dropdown(options=horizons_ms, description="ahead (ms)"),
                     shown=widgets.SelectMultiple(options=ex.options(), value=("phase4_cnn_lstm", "own_lags_boosting"),
                                                  rows=len(ex.options()), description="forecasters",
                                                  layout=widgets.Layout(width="34em")))

# %% [markdown]
# ## How much is predictable?
# The ceiling (Methods section 9) is the R² of an oracle that knows the simulator's full state
# but not its future noise, on the clean test runs (computed once and cached; see voltlib.forecast.ceiling).
# The models' targets also carry 0.2 mV of measurement noise that nobody can predict: the dashed
# ceiling adds it, and is the one to compare the models with. The share of the achievable gain is
# (R²_model - R²_floor) / (R²_ceiling - R²_floor), against the dashed ceiling, where the floor is
# the better trivial forecast at that horizon: persistence or the training mean (R² near 0).

# %%
ceil = compute_ceiling(profile, progress=False)
c_h = list(ceil["horizons_ms"])
assert c_h == horizons_ms, f"ceiling horizons {c_h} differ from the data horizons {horizons_ms}"
ceiling_r2, ceiling_ci = ceil["ceiling_r2"], ceil["ceiling_r2_ci"]
lad = read_json(results / "ladder.json").get("clean", {})
models_r2 = {"CNN-LSTM direct": [full[h]["r2"] for h in horizons_ms],
             "CNN-LSTM rollout": [multi[h]["rollout"]["r2"] for h in horizons_ms],
             **{display.name(b): [base[b][horizon_key(h)]["r2"] for h in horizons_ms] for b in base}}
pers, mean_r2 = models_r2[display.name("persistence")], models_r2[display.name("mean")]
floor = gain_floor(pers, mean_r2)
shares = {k: gain_share(v, floor, ceiling_r2).tolist() for k, v in models_r2.items() if k not in (display.name("persistence"), display.name("mean"))}
shares_1ms_ladder = {PHASE_LABELS[p]: gain_share(e["r2"], floor[0], ceiling_r2[0]) for p, e in lad.items() if p in PHASE_LABELS}
# intervals: each model and its floor resampled together over test runs, the ceiling drawn apart (Methods section 9)
floor_stats = [base[floor_baseline(base, h)][horizon_key(h)]["run_stats"] for h in horizons_ms]
stats = {"CNN-LSTM direct": [full[h]["run_stats"] for h in horizons_ms],
         **{display.name(b): [base[b][horizon_key(h)]["run_stats"] for h in horizons_ms] for b in base if b not in ("persistence", "mean")}}
share_cis = {k: [list(gain_share_interval(st, fl, c, ci)["ci"]) for st, fl, c, ci in zip(v, floor_stats, ceiling_r2, ceiling_ci)]
             for k, v in stats.items()}
share_cis_1ms_ladder = {PHASE_LABELS[p]: list(gain_share_interval(e["run_stats"], floor_stats[0], ceiling_r2[0], ceiling_ci[0])["ci"])
                        for p, e in lad.items() if p in PHASE_LABELS}
write_json(results / "ceiling.json", {
    "horizons_ms": horizons_ms, "ceiling_r2": ceiling_r2, "ceiling_r2_ci": ceiling_ci,
    "ceiling_definition": "oracle error + 0.2 mV measurement noise variance (comparable with models scored on noisy targets)",
    "ceiling_r2_oracle": ceil["ceiling_r2_oracle"], "ceiling_r2_oracle_ci": ceil["ceiling_r2_oracle_ci"],
    "ci": ceil["ci"], "n_start_times": ceil["n_start_times"], "n_replicas": ceil["n_replicas"], "test_runs": ceil["test_runs"],
    "models": models_r2, "ladder_1ms": {PHASE_LABELS[p]: e["r2"] for p, e in lad.items() if p in PHASE_LABELS},
    "gain_floor": floor.tolist(), "gain_floor_definition": "max(R² persistence, R² training mean) per horizon",
    "gain_share": shares, "gain_share_ci": share_cis, "gain_share_ladder_1ms": shares_1ms_ladder,
    "gain_share_ladder_1ms_ci": share_cis_1ms_ladder,
    "rollout_windows": int(len(idx))});

# %%
fig, (ax_r2, ax_share) = plt.subplots(1, 2, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1.2, 1]})
curves_c = {k: (models_r2[k], style) for k, (_, style) in curves.items()}    # the multi-step figure's styles
plots.r2_vs_horizon(horizons_ms, curves_c, ceiling=ceiling_r2, ceiling_ci=ceiling_ci,
                    ceiling_oracle=ceil["ceiling_r2_oracle"], ceiling_oracle_ci=ceil["ceiling_r2_oracle_ci"],
                    ylim=(-0.5, 1.0), ax=ax_r2)
if shares_1ms_ladder:
    ax_r2.scatter([horizons_ms[0]] * len(shares_1ms_ladder), [lad[p]["r2"] for p in lad if p in PHASE_LABELS],
                  marker="x", color="C9", zorder=4, label="ladder phases (1 ms)")
ax_r2.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
plots.gain_share_bars(horizons_ms, shares, ax=ax_share, intervals=share_cis,
                      colors={k: "0.2" if k == "CNN-LSTM direct" else "0.6" if k == "CNN-LSTM rollout" else st["color"]
                              for k, (_, st) in curves.items()})
ax_share.set_title("share of the achievable gain (floor: persistence or the mean)", loc="left")
fig.tight_layout()
plots.save_figure(fig, profile, "predictability.png");

# %%
s1 = shares["CNN-LSTM direct"][0]
Markdown(prose.render("predictability", **wording.predictability_fields(horizons_ms, ceiling_r2, ceiling_ci,
                                                                        ceil["ceiling_r2_oracle"], models_r2, shares,
                                                                        share_cis)))

# %% [markdown]
# ## Results

# %%
summary = {
    "protocol": "clean", "horizons_ms": horizons_ms,
    "r2_by_horizon": [full[h]["r2"] for h in horizons_ms], "r2_per_neuron_by_horizon": r2_by_h,
    "rmse_mv_per_neuron_by_horizon": rmse_by_h, "per_neuron_r2_1ms_spread": spread,
    "ei_test_1ms": ei, "rho_r2_rate": rho_rate, "rho_r2_in_degree": rho_deg,
    "reset_share": reset, "unseen_reset_share": unseen,
    "reset_share_persistence": analysis.reset_share(sq["persistence"], since, RESET_MS),
    "mse_by_time_in_run": {"centers_s": prof["CNN-LSTM"]["time"]["centers"], "mse_z": time_mse},
    "multistep": {horizon_key(h): {k: {"r2": v["r2"], "skill_vs_persistence": v["skill_vs_persistence"]} for k, v in multi[h].items()}
                  for h in horizons_ms},
    "multistep_windows": int(len(idx)), "training": train_info,
    "gain_share_1ms": s1, "wall_s": time.perf_counter() - t_start,
}
update_json(results / "analysis.json", "error_analysis", value=summary);

# %% tags=["nbval-ignore-output"]
print(f"06 took {summary['wall_s']:.0f} s")
