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
# # 8. What does it take to reach the ceiling?
#
# Notebooks 06 and 07 showed what does not work: the CNN-LSTM leaves most of the achievable gain on
# the table, and nearly all of what it uses is a neuron's own past. The oracle of the ceiling knows
# four things: each neuron's voltage, its refractory clock, the spikes in flight on the 1.5 ms delays
# and the wiring. A forecaster of the recorded voltages can read the first three from the traces (a
# spike is a reset to -70 mV) and can learn the fourth from the run itself. Here a staircase of small
# forecasters adds one of these at a time, each one network shared by all neurons (the neuron is the
# batch, as in the channel-independent models that lead recent neural-forecasting benchmarks), each
# forecasting every horizon at once, each trained on the clean protocol's training runs only:
#
# 1. **own history**: the neuron's own last 20 samples;
# 2. **+ own spike clock**: its spikes detected in those samples and the time since its last one;
# 3. **+ population spikes, wiring inferred from the run**: its input drive through a coupling fitted
#    on the run's own past, causally, and the population's spike counts;
# 4. **+ the true wiring**: the same with the run's real synapses, knowledge a recording would not
#    have: an upper bound on what learning the wiring can add.
#
# Methods section 11 states the detector, the inference and the models.

# %% tags=["parameters"]
profile = "smoke"
device = None

# %%
import time

import numpy as np
from IPython.display import Markdown

from voltlib import display
from voltlib.forecast import staircase
from voltlib.paper import analysis, prose, staircase_scores
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import reaching as plots
from voltlib.sim import wiring
from voltlib.store import read_json, update_json, write_json

t_start = time.perf_counter()
require_inputs(profile, "08_reaching_the_ceiling")
S = analysis.setup(profile, device, all_horizons=True)     # the clean datasets at every horizon
cfg, sim, datasets, ds1, results = S.cfg, S.sim, S.datasets, S.ds1, S.results
horizons_ms, h_samples, n_exc = S.horizons_ms, S.h_samples, S.n_exc
baselines, ceiling = read_json(results / "baselines.json")["clean"], read_json(results / "ceiling.json")
test_runs = [int(r) for r in ds1.runs["test"]]

# %% [markdown]
# ## What the recorded voltages tell: spikes, clocks and a coupling per run
# A spike is detected where the voltage falls by at least 8 mV within one sample to within 3 mV of
# the reset. For every run, each neuron's one-sample voltage increments are regressed on the other
# neurons' detected spikes (ridge; its penalty chosen on the validation runs); the coupling used at a
# sample is the one fitted on the whole half-seconds of the run before it, so no forecast reads its
# own future.

# %%
inp = staircase.build_inputs(sim, cfg.data, ds1.runs, tuple(h_samples), keep_couplings=test_runs)
Markdown(prose.render("spike_detection", n_test_runs=len(test_runs), detection=inp.detection, alpha=inp.alpha,
                      alpha_scores=inp.alpha_scores))

# %% [markdown]
# ## The staircase
# Each member is trained with the same schedule (Methods section 11), its best validation epoch
# kept, and cached like every other trained model.

# %% tags=["nbval-ignore-output"]
fitted = staircase.fit_family(cfg.beyond, inp, ds1.runs, cfg.data.window - 1, cfg.sim, cfg.data)
info = {k: [i for _, i, _ in v] for k, v in fitted.items()}
display.frame(staircase_scores.family_table(info), specs={"training per seed (s)": ".1f"})

# %%
preds = staircase.family_forecasts(fitted, cfg.beyond, inp, datasets)
scores = {k: staircase_scores.score(p, datasets, horizons_ms, baselines, ceiling) for k, p in preds.items()}
staircase_scores.r2_table(scores, baselines, ceiling, horizons_ms, ("persistence", "own_lags_boosting"))

# %%
fig = plots.staircase_figure(horizons_ms, scores, baselines, ceiling)
plots.save_figure(fig, profile, "reaching_the_ceiling.png");

# %%
staircase_scores.share_table(scores, horizons_ms)

# %% [markdown]
# ## Does the model find the wiring?
# For each test run, the coupling inferred at each checkpoint is compared with the run's true
# synapses: how well it ranks real synapses above absent ones (ROC AUC; excitatory presynaptic
# neurons by a positive coupling, inhibitory by a negative one), against a null that scores the
# same coupling against the other test runs' graphs. On the right, the 1-ms forecasts grouped by
# the checkpoint whose coupling they used, each member's R² minus the spike-clock member's on the
# same windows (the first half-second has no coupling yet).

# %%
auc, auc_null = wiring.recovery_table(inp.couplings, {r: sim.weights_mv(r) for r in test_runs}, n_exc)
past_s = np.arange(auc["E"].shape[1]) * wiring.STEP * cfg.sim.record_dt_ms / 1000
h1 = h_samples[0]
by_past = {staircase.MEMBER_LABELS[k]: staircase.r2_by_past(preds[k][h1].mean(axis=0), datasets[h1], len(past_s))
           for k in ("clock", "wiring", "oracle")}
ref = staircase.MEMBER_LABELS["clock"]
fig = plots.wiring_recovery(past_s, auc, auc_null, {k: v - by_past[ref] for k, v in by_past.items() if k != ref}, ref)
plots.save_figure(fig, profile, "wiring_recovery.png");

# %%
Markdown(prose.render("wiring_recovery", **staircase_scores.recovery_summary(auc, auc_null, past_s)))

# %%
best_member = staircase_scores.best_member(scores)
write_json(results / "beyond.json", staircase_scores.beyond_record(scores, info))
update_json(results / "analysis.json", "reaching_the_ceiling",
            value=staircase_scores.analysis_record(inp, best_member, past_s, auc, auc_null, by_past, info,
                                                   wall_s=time.perf_counter() - t_start));

# %% [markdown]
# ## Conclusion

# %%
since, _ = analysis.split_spike_clock(sim, ds1.test, S.kept)
unforeseen = analysis.reset_share((preds["oracle"][h1].mean(axis=0) - ds1.test.targets()) ** 2, since, horizons_ms[0])

# %%
Markdown(staircase_scores.conclusion(scores, info, best_member, baselines, ceiling, horizons_ms, unforeseen))

# %% tags=["nbval-ignore-output"]
print(f"08 took {time.perf_counter() - t_start:.0f} s; trained now: "
      f"{', '.join(k for k, v in info.items() if not all(i['cached'] for i in v)) or 'none'}")
