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
# # 10. What does the recording hide, and what does learning leave?
#
# The ceiling of notebook 06 belongs to an oracle that knows the simulator's whole state: every true
# voltage, every refractory clock, the exact step of every spike in flight. A forecaster of the
# recording sees noisy 1-ms samples. Notebook 08's best member did not reach 90 % of the oracle's gain,
# and most of its error fell right after spikes fired between two samples, whose arrival 1.5 ms later
# the samples cannot time. Is that gap what learning leaves behind, or what the
# recording hides? Weather forecasting answers such a question with data assimilation: a filter that
# knows the model's equations, fed the observations. Here the equations are known, so we build that
# observer: a particle filter per neuron at the simulator's 0.1 ms step, conditioned on the noisy
# samples, whose presynaptic spikes are timed by their own neurons' filters, with the wiring inferred
# from the run's past (the true wiring as a labelled variant); its forecast is a network state drawn
# from the filters and run forward with fresh noise (Methods section 15). The same ensembles are
# distributions, so we also score every forecaster as one: CRPS, interval coverage and PIT, beside a learned
# forecaster of distributions (notebook 08's member with quantile outputs).

# %% tags=["parameters"]
profile = "smoke"

# %%
import time

from IPython.display import Markdown

from voltlib import display, paths
from voltlib.config import notebook_profile
from voltlib.paper import observing, products, prose, summary
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import observer_ceiling as plots
from voltlib.sim.simulate import simulate
from voltlib.store import read_json, write_json

t_start = time.perf_counter()
cfg = notebook_profile(profile)
require_inputs(profile, "10_observer")
results = paths.results_dir(profile)
ceiling = read_json(results / "ceiling.json")
best = summary.best_forecaster(read_json(results / "beyond.json"), read_json(results / "analysis.json"))
sim = simulate(cfg.sim, progress=False)
prod = observing.product(cfg, sim, progress=True)  # computed on the build's fan-out, or here
learned = observing.learned_scores(prod, observing.learned_at_starts(cfg, sim, prod, best["name"]) if best else None)
label = best["label"] if best else None
Markdown(products.origin_sentence(cfg.name, observing.product_path(cfg), "The observer's product"))

# %% [markdown]
# ## Does the filter settle?
# The observer's 1-ms error on the first test run's first start times as the particles per neuron
# double (at the chosen burn-in) and as the burn-in grows (at the chosen particles). The estimate
# should stop moving before the chosen values.

# %%
fig = plots.convergence(prod["convergence"])
plots.save_figure(fig, profile, "observer_convergence.png");

# %%
display.frame(observing.filter_frame(prod))

# %% [markdown]
# ## Two ceilings and the learned forecaster
# R² of the mean forecast at the same start times, against the test targets' variance (as the
# ceiling's), notebook 08's best member included, so that every difference is paired. The numpy oracle
# is the simulator's exact state run forward by this chapter's network code: it should agree with
# notebook 06's Brian2 restarts (at their own, more numerous start times), which checks that code.

# %%
rows = observing.r2_rows(prod, ceiling, learned, label)
display.frame(observing.r2_frame(rows))

# %%
# persistence lies far below (in the table); the member's one seed lies on its pooled seeds
plotted = {k: v for k, v in rows.items() if k not in (observing.LABELS["persistence"], observing.LABELS["quantile_member"])}
fig = plots.ceilings(prod["horizons_ms"], plotted, observing.row_colors(rows, plots.COLORS),
                     observing.gaps(prod, learned))
plots.save_figure(fig, profile, "observer_ceilings.png");

# %%
decomposed = observing.decomposition(prod, learned)
display.frame(observing.decomposition_frame(decomposed))

# %% [markdown]
# ## Forecasts as distributions
# Each ensemble, with the measurement noise the recorded target carries, is scored by the CRPS (in
# z units; lower is better, and for a point forecast it is the absolute error), by how often the
# central 50 % and 90 % intervals hold the recorded value, and by the PIT: where the recorded value
# falls in the forecast's distribution, flat for a calibrated forecast, U-shaped for an overconfident one.

# %%
Markdown(observing.distributional_note(prod, best["name"] if best else None))

# %%
display.frame(observing.score_by_horizon_frame(prod, "crps_z"))

# %%
display.frame(observing.score_by_horizon_frame(prod, "coverage_90"))

# %%
display.frame(observing.score_by_horizon_frame(prod, "coverage_50"))

# %%
fig = plots.pit_histograms(prod["horizons_ms"], prod["scores"], observing.LABELS)
plots.save_figure(fig, profile, "observer_pit.png");

# %%
fig = plots.example(prod["example"], observing.LABELS)
plots.save_figure(fig, profile, "observer_near_threshold.png");

# %%
Markdown(prose.render("observer_findings", **observing.findings_fields(prod, decomposed, learned, label)))

# %%
write_json(results / "observer.json", observing.record(prod, decomposed, learned));

# %% tags=["nbval-ignore-output"]
print(f"10 took {time.perf_counter() - t_start:.0f} s; the observer's product {display.number(prod['wall_s'], '.0f')} s")
