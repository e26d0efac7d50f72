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
# # 5. Phase 4: the CNN-LSTM, and the whole ladder
#
# The source's final model puts a "CNN" in front of phase 3's LSTM. In its code the window
# x[batch, 150, 100] is read by Conv1d with the **150 time steps as channels** and the **100 neuron
# indices as the length axis**: two convolutions in sequence (kernels 3 and 5, each followed by ReLU,
# BatchNorm and Dropout1d), and the result is **added** to x. Its report describes parallel kernels,
# concatenation and a bidirectional LSTM; none of these is in the code. A convolution along the
# neuron index assumes neighbouring indices are related, but in a random network the index order
# is arbitrary (notebook 07 tests this). With phase 3's LSTM and head the model has 2,188,168
# parameters at paper size (Methods section 5); it trains at learning rate 3e-3 after 5 warm-up
# epochs (Methods section 6).

# %% tags=["parameters"]
profile = "smoke"
device = None

# %%
from IPython.display import Markdown

from voltlib import display, paths
from voltlib.config import PHASE_LABELS, SOURCE_R2, notebook_profile, paper_phases
from voltlib.device import pick_device
from voltlib.forecast import ladder
from voltlib.forecast.models import build_model, count_params
from voltlib.paper import budget, prose, summary
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import training as plots
from voltlib.sim.simulate import simulate
from voltlib.store import read_json, update_json

cfg = notebook_profile(profile, device)
require_inputs(profile, "05_cnn_lstm")
dev = pick_device(device)
datasets = ladder.load_datasets(cfg, simulate(cfg.sim, progress=False))
paper_params = count_params(build_model(paper_phases()["phase4_cnn_lstm"][0]))
Markdown(f"At the source's sizes this model has {paper_params:,} parameters (the source: 2,188,168). "
         f"At the **{profile}** profile its LSTM has hidden size {cfg.phases['phase4_cnn_lstm'][0].hidden}.")

# %%
phase4 = ladder.run_phases(cfg, ["phase4_cnn_lstm"], datasets, dev)

# %% [markdown]
# ## Training curves

# %%
histories = read_json(paths.results_dir(profile) / "histories.json")
fig = plots.training_curves(histories, PHASE_LABELS)
plots.save_figure(fig, profile, "training_curves.png");

# %% [markdown]
# ## The ladder under both protocols, beside the source's figures

# %% tags=["nbval-ignore-output"]
ladder.ladder_table(profile, "original")

# %% tags=["nbval-ignore-output"]
ladder.ladder_table(profile, "clean")

# %%
lad = read_json(paths.results_dir(profile) / "ladder.json")
base = read_json(paths.results_dir(profile) / "baselines.json")
r2 = {p: {PHASE_LABELS[k]: v["r2"] for k, v in lad[p].items() if k in PHASE_LABELS} for p in datasets}
ci = {p: {PHASE_LABELS[k]: v["r2_ci"] for k, v in lad[p].items() if k in PHASE_LABELS} for p in datasets}
best_clean, best_clean_r2 = summary.best_baseline(base, "clean")
best_clean = display.name(best_clean)
refs = {"persistence (clean)": summary.baseline_r2(base, "clean", "persistence"), f"{best_clean} (clean)": best_clean_r2}
fig = plots.ladder_bars(r2, refs, source={PHASE_LABELS[k]: v for k, v in SOURCE_R2.items()}, ci=ci)
plots.save_figure(fig, profile, "ladder.png");

# %% [markdown]
# Error bars: 95 % intervals by bootstrap over whole test runs, which also redraws the training seeds
# of a phase that has several (Methods section 8).
#
# ## Which differences the data resolve
# Every difference below is R² of the first model minus R² of the second, with a 95 % interval:
# paired (both scored on the same clean test windows, resampled together) except the leak effect,
# whose two models are scored on different test sets and resampled apart. "higher" or "lower" only
# where the interval excludes zero.

# %%
cmp = summary.ladder_comparisons(lad, base)
update_json(paths.results_dir(profile) / "comparisons.json", "ladder", value=cmp)
summary.comparison_table(cmp)

# %%
o, c = lad["original"]["phase4_cnn_lstm"], lad["clean"]["phase4_cnn_lstm"]
best_phase, best_phase_r2 = summary.best_phase(lad, "clean")
Markdown(prose.render("cnn_lstm_verdicts", budget_words=budget.budget_words(budget.ladder_budget(cfg)),
                      n_seeds=len(c["seeds"]), original_r2=o["r2"], clean_r2=c["r2"],
                      source_r2=SOURCE_R2["phase4_cnn_lstm"], cmp=cmp, best_baseline=best_clean,
                      best_baseline_r2=best_clean_r2, best_phase=PHASE_LABELS[best_phase], best_phase_r2=best_phase_r2))

# %% [markdown]
# ## The verdicts at more training: R² against training compute
#
# Every number above comes from one training budget, and the quick profile's is about 0.7 % of the
# source's (5 epochs of 4,000 windows, against 129 epochs of 21,459). A comparison of architectures at
# one budget says how far each got, not how far it can go, so a separate study (`make budget`, Methods
# section 13) trains the CNN-LSTM at budgets spaced 4-5x apart, the source's exact model (width 384)
# at the two smallest, and the LSTM with the residual head (the ladder without the CNN) beside it, on
# both protocols. Each budget gets its own schedule whose learning rate decays to its floor exactly at
# that budget: reading the budgets off the checkpoints of one long run would judge the early ones with
# their rate still high, which biases them down. The study takes hours, so it is archived with its
# provenance under `results/archive/` and read here, never retrained by the build.

# %%
archive = budget.load_archive(profile)
Markdown(budget.describe(archive))

# %% tags=["nbval-ignore-output"]
budget.summary_table(archive)

# %%
budget_curves = budget.curves(archive)
extrapolations = {(m, p): budget.extrapolate(pts) for m, by_p in budget_curves.items() for p, pts in by_p.items()
                  if len(pts) >= 3}
references = {display.name(n): summary.baseline_r2(base, "clean", n) for n in budget.REFERENCES}
if budget_curves:
    fig = plots.budget_curves(budget_curves, {m.name: m.label for m in budget.STUDY}, references, extrapolations,
                              budget.SOURCE_WINDOW_PASSES)
    plots.save_figure(fig, profile, "budget_curves.png");

# %% [markdown]
# Test R² against training window-passes, 95 % intervals over test runs (and seeds, where a budget
# has two). Dashed: the saturating curve R²(n) = R²∞ − a·n^−b fitted through a model's budgets and
# drawn up to the source's budget; right of the largest measured budget it is an extrapolation, and
# its interval (below) comes from refitting it to points redrawn within their intervals. Horizontal
# lines: the clean protocol's baselines.

# %%
findings = budget.headline(archive, base)
update_json(paths.results_dir(profile) / "comparisons.json", "budget", value=findings)
Markdown("\n\n".join(budget.sentences(findings)))
