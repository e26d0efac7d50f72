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
# # 7. Interpretability: what the CNN-LSTM uses
#
# The source's report says its CNN learned "spatial receptive fields capturing local neuron groups",
# that spatial CNN features carry 35 % of the predictive power, temporal LSTM features 65 % and the
# residual connection 15 %, and that LSTM hidden states track the network's oscillation phase. Its
# code computed none of these numbers. Here each is computed on the **clean protocol** with notebook
# 05's CNN-LSTM (loaded from the cache), and one control the source never ran is added: the same
# model trained on data whose neuron order is shuffled. In a random network the neuron index carries
# no spatial order, so a convolution along it should gain nothing from it.

# %% tags=["parameters"]
profile = "smoke"
device = None

# %%
import time

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from voltlib import display
from voltlib.config import to_dict
from voltlib.forecast import fits, interpret
from voltlib.forecast.metrics import r2_from_stats, r2_pooled, run_stats
from voltlib.forecast.models import build_model
from voltlib.paper import analysis, products, prose, wording
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import interpretation as plots
from voltlib.paper.summary import compare, comparison_table
from voltlib.store import update_json

t_start = time.perf_counter()
require_inputs(profile, "07_interpretability")
S = analysis.setup(profile, device)                        # the clean dataset at the task's horizon
cfg, dev, sim, ds, results = S.cfg, S.device, S.sim, S.ds1, S.results
n_exc, n, dt_ms, kept, discard = S.n_exc, S.n, S.dt_ms, S.kept, S.discard
test, caps = ds.test, cfg.analysis
model_cfg, train_cfg = cfg.phases["phase4_cnn_lstm"]
model, info = fits.load(cfg, "phase4_cnn_lstm", ds, dev)
model = model.cpu().eval()       # the analyses below index tensors in memory; the model is small
# every importance value costs a pass over its windows: seeded subsets of the test windows
idx = analysis.seeded_subset(len(test), caps.eval_windows, caps.subset_seed)
x_eval, y_eval = test.get_batch(idx)
Markdown(prose.render("evaluation_sets", n_test=len(test), n_eval=len(idx), n_perm=min(caps.perm_windows, len(idx)), n=n,
                      caps=caps))

# %% [markdown]
# ## The convolution filters
# Conv1d reads the 150 time steps of the window as channels and slides along the neuron index,
# kernel 3 then kernel 5, in sequence (not in parallel, as the report says; Methods section 5).
# Below: the mean absolute weight per (input time step, neuron offset), and the same summary at
# initialisation.

# %%
torch.manual_seed(train_cfg.seed)
initial = build_model(model_cfg, window=test.window, n_neurons=n)
filt, filt0 = interpret.filter_summary(model), interpret.filter_summary(initial)
fig = plots.cnn_filters(filt, filt0)
plots.save_figure(fig, profile, "cnn_filters.png");

# %%
Markdown(prose.render("cnn_filters", **wording.filter_fields(filt, filt0)))

# %% [markdown]
# ## Feature importance: ablations and permutation importance
# Ablations switch a part off in the trained model (evaluated), or train without it from the start
# (retrained). The CNN-removed retrained model is the ladder's phase 3 (same LSTM and head, phase 3's
# learning rate and weight decay); the residual-removed model is trained here with phase 4's schedule.

# %%
phase3, _ = fits.load(cfg, "phase3_lstm_res", ds, dev)
no_res, no_res_info = fits.load(cfg, fits.NO_RESIDUAL, ds, dev)     # trained with the residual path switched off
y_np, runs_eval = y_eval.numpy(), test.run_of_window[idx]
abl_stats = {k: {"run_stats": run_stats(y_np, p, runs_eval)}
             for k, p in interpret.ablation_predictions(model, phase3.cpu(), no_res.cpu(), x_eval).items()}
ablation = {k: r2_from_stats(v["run_stats"]) for k, v in abl_stats.items()}
abl_cmp = {k: compare(v, abl_stats["full CNN-LSTM"], True, k, "full CNN-LSTM") for k, v in abl_stats.items()
           if k != "full CNN-LSTM"}
display.frame(pd.DataFrame({"test R²": ablation}).join(comparison_table(abl_cmp, by_key=True)))

# %%
perm_idx = np.arange(min(caps.perm_windows, len(idx)))
imp_neuron = interpret.permutation_importance(model, x_eval[perm_idx].clone(), y_eval[perm_idx], list(range(n)), "neuron")
own = np.diag(imp_neuron)
others = imp_neuron.sum(axis=1) - own
lag_labels, lag_idx = interpret.lag_groups(test.window)
imp_lag = interpret.permutation_importance(model, x_eval.clone(), y_eval, lag_idx, "lag").mean(axis=1)
fig = plots.feature_importance(ablation, own, others, n_exc, lag_labels, imp_lag)
plots.save_figure(fig, profile, "feature_importance.png");

# %%
own_share = float(own.sum() / (own.sum() + np.clip(others, 0, None).sum()))
Markdown(prose.render("ablations", ablation=ablation, own_share=own_share, lag_labels=lag_labels, imp_lag=imp_lag))

# %% [markdown]
# ## Sensitivity between neurons against the true connectivity
# The mean gradient of each forecast with respect to each input neuron (summed over the window's
# time steps), on windows of one test run, next to that run's synaptic weights [pre, post]. Each run
# has its own random graph, so a model trained on other runs cannot know this one unless it infers it
# from the window. The null: the same sensitivity correlated with the graphs of every other run.

# %%
own_run = int(test.run_of_window[0])
seg = analysis.segment_of_run(test, kept, own_run)
dense = analysis.dense_split(test, kept, seg, 0, caps.dense_windows, 1)
grad_idx = np.linspace(0, len(dense) - 1, min(caps.grad_windows, len(dense))).astype(int)
sens = interpret.sensitivity(model, dense.get_batch(grad_idx)[0])
weights = {r: sim.weights_mv(r) for r in range(sim.n_runs)}
corr = interpret.connectivity_correlation(sens, weights, own_run)
fig = plots.spatial_patterns(sens, weights[own_run], corr, n_exc, own_run)
plots.save_figure(fig, profile, "spatial_patterns.png");

# %%
z_own = wording.graph_z(corr)
Markdown(prose.render("connectivity", own_run=own_run, corr=corr, z=z_own, reflects=wording.reflects_graph(z_own)))

# %% [markdown]
# ## The control the source never ran: shuffle the neuron order
# One fixed permutation applied to every window's inputs and targets (training, validation and
# test), the same architecture and schedule retrained, forecasts mapped back to the original order.

# %%
perm = fits.neuron_order(n, caps.order_seed)
ds_perm = interpret.permute_dataset(ds, perm)
ordered = [s.fit_or_load(ds, dev)[0] for s in fits.seeds_of(cfg, "phase4_cnn_lstm")]
shuffled = [s.fit_or_load(ds_perm, dev) for s in fits.seeds_of(cfg, fits.SHUFFLED)]
order_stats = {"shuffled": run_stats(y_np, interpret.predict_seeds([m for m, _ in shuffled], x_eval, perm), runs_eval),
               "ordered": run_stats(y_np, interpret.predict_seeds(ordered, x_eval), runs_eval)}
r2_shuffled, r2_ordered = (r2_from_stats(order_stats[k]) for k in ("shuffled", "ordered"))
shuffle_cmp = compare({"run_stats": order_stats["shuffled"]}, {"run_stats": order_stats["ordered"]}, True,
                      "shuffled order", "original order")
update_json(results / "comparisons.json", "interpretability", value={"shuffled_vs_ordered": shuffle_cmp,
            **{f"{k} vs full": v for k, v in abl_cmp.items()}})
Markdown(prose.render("shuffled_order", n_shuffled=len(shuffled), n_ordered=len(ordered), r2_shuffled=r2_shuffled,
                      r2_ordered=r2_ordered, cmp=shuffle_cmp, resolved=wording.resolved(shuffle_cmp))
         + "\n\n" + products.fits_origin_sentence(cfg.name, [i for _, i in shuffled], "The shuffled-order models"))

# %% [markdown]
# ## LSTM hidden states against the population rate and its oscillation
# Hidden states (the LSTM output at each window's last step) for consecutive windows of one test run,
# their principal components, and the population rate at the window's last input sample (smoothed
# with a 2-ms Gaussian). The oscillation phase comes from the rate band-passed around its spectral
# peak. Decoding R² is held out (fit on the first half of the trace, scored on the second).

# %%
x_dense, y_dense = dense.get_batch(np.arange(len(dense)))
hidden = interpret.hidden_states(model, x_dense)
pcs, explained = interpret.pca(hidden, 10)
last_sample = analysis.target_samples(dense, kept, discard)[1] - 1
t_run_ms = np.arange(discard, sim.v_mv.shape[1]) * dt_ms
rate_run = interpret.population_rate_hz(sim.spike_t_ms[own_run], n, t_run_ms, sigma_ms=caps.rate_sigma_ms)
osc = interpret.oscillation(interpret.population_rate_hz(sim.spike_t_ms[own_run], n, t_run_ms, sigma_ms=0.0), dt_ms)
rate, phase = rate_run[last_sample - discard], osc["phase"][last_sample - discard]
targets = {"rate": rate, "phase (cos, sin)": np.c_[np.cos(phase), np.sin(phase)]}
features = {"hidden (10 PCs)": pcs, "hidden (all)": hidden, "last input sample": x_dense[:, -1].numpy(),
            "mean v, last 3 samples": x_dense[:, -3:].mean(dim=2).numpy()}
decoding = {f: {t: interpret.decode_r2(v, y) for t, y in targets.items()} for f, v in features.items()}
fig = plots.lstm_dynamics(last_sample * dt_ms, pcs, explained, rate, {**osc, "phase": phase}, decoding)
plots.save_figure(fig, profile, "lstm_dynamics.png");

# %%
pc_rate = [abs(np.corrcoef(pcs[:, k], rate)[0, 1]) for k in range(3)]
dh, di = decoding["hidden (all)"], decoding["last input sample"]
Markdown(prose.render("hidden_states", osc=osc, weak_peak=wording.weak_peak(osc), top3_explained=explained[:3].sum(),
                      pc_rate=pc_rate, hidden=dh, last_input=di,
                      carries_phase=wording.hidden_carries_phase(dh["phase (cos, sin)"], di["phase (cos, sin)"])))

# %% [markdown]
# ## Residuals, and what the residual connection contributes
# The head adds a linear map of the window's last sample (the "residual connection") to the
# normalised LSTM output before the output layer; because that layer is linear, the forecast splits
# into an LSTM part and a skip part.

# %%
pred_eval = interpret.predict_x(model, x_eval).numpy()
resid = y_eval.numpy() - pred_eval
pred_dense = interpret.predict_x(model, x_dense).numpy()
max_lag = caps.acf_max_lag
acfs = {"CNN-LSTM": interpret.acf(y_dense.numpy() - pred_dense, max_lag),
        "persistence": interpret.acf(y_dense.numpy() - x_dense[:, -1].numpy(), max_lag)}
lstm_part, skip_part = interpret.head_components(model, x_eval)
bias = model.out.bias.detach().numpy()
parts = {"full CNN-LSTM": ablation["full CNN-LSTM"], "residual switched off": ablation["residual switched off"],
         "no residual, retrained": ablation["no residual, retrained"],
         "skip part alone (+ bias)": r2_pooled(y_eval.numpy(), skip_part + bias),
         "LSTM part alone (+ bias)": r2_pooled(y_eval.numpy(), lstm_part + bias)}
fig = plots.residual_analysis(resid, np.arange(max_lag + 1) * dt_ms, acfs, parts)
plots.save_figure(fig, profile, "residual_analysis.png");

# %%
stats = interpret.residual_stats(resid, skip_part, lstm_part)
Markdown(prose.render("residuals", stats=stats, parts=parts, lag1=acfs["CNN-LSTM"][1], lag1_persistence=acfs["persistence"][1],
                      heavy_tailed=wording.heavy_tailed(stats["excess_kurtosis"]),
                      autocorrelated=wording.autocorrelated(acfs["CNN-LSTM"][1])))

# %% [markdown]
# ## Results

# %%
findings_text = prose.render("interpretability_findings", ablation=ablation, own_share=own_share,
                             r2_shuffled=r2_shuffled, r2_ordered=r2_ordered, n_seeds=len(ordered),
                             shuffle_cmp=shuffle_cmp, corr=corr, phase_hidden=dh["phase (cos, sin)"],
                             phase_input=di["phase (cos, sin)"])
findings = prose.items(findings_text)
summary = {
    "protocol": "clean", "analysis_config": to_dict(caps), "n_test_windows": len(test),
    "filters": {k: {kk: vv for kk, vv in v.items() if kk != "by_step_offset"} for k, v in filt.items()},
    "filters_initial_centre_over_neighbours": {k: v["centre_over_neighbours"] for k, v in filt0.items()},
    "ablation_r2": ablation, "no_residual_training": {k: no_res_info[k] for k in ("epochs", "train_s", "cached")},
    "permutation_importance": {"own": own, "others": others, "own_share": own_share,
                               "lag_labels": lag_labels, "lag": imp_lag},
    "sensitivity_vs_connectivity": corr,
    "shuffled_order": {"r2": r2_shuffled, "r2_original_order": r2_ordered, "perm_seed": caps.order_seed,
                       "seeds": len(shuffled), "difference": shuffle_cmp,
                       "train_s": [i["train_s"] for _, i in shuffled], "cached": all(i["cached"] for _, i in shuffled)},
    "lstm_dynamics": {"explained_variance": explained, "pc_rate_abs_r": pc_rate, "decoding_r2": decoding,
                      "peak_hz": osc["peak_hz"], "peak_over_median": osc["peak_over_median"]},
    "residuals": {**stats, "acf": acfs, "parts_r2": parts},
    "wall_s": time.perf_counter() - t_start,
}
update_json(results / "analysis.json", "interpretability", value=summary)
update_json(results / "analysis.json", "findings", value=findings)
Markdown(findings_text)

# %% tags=["nbval-ignore-output"]
print(f"07 took {summary['wall_s']:.0f} s; retrained now: no-residual {not no_res_info['cached']}, "
      f"shuffled order {not all(i['cached'] for _, i in shuffled)}")
