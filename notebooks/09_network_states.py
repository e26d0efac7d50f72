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
# # 9. Which findings hold across network states?
#
# Every verdict so far was measured in one network: the source's, whose neurons fire at about 30 Hz
# with a CV of inter-spike intervals of 0.4, more regular than cortex (0.8-1.2). Brunel (2000) showed
# that the same kind of network is asynchronous and irregular, like cortex, or synchronous with a
# fast or slow population rhythm, depending on its inhibition g and its external drive
# ν_ext/ν_thr. His map holds for networks of thousands of inputs per neuron; at 100 neurons with 8
# excitatory inputs each, we choose each state's parameters so that it measures as its label says,
# and we show the measurements (Methods section 14). Each state is then forecast as the source's
# was: the clean protocol (whole runs held out), every horizon, the baselines of Methods section 7,
# with 95 % intervals over the held-out runs.

# %% tags=["parameters"]
profile = "smoke"

# %%
import time

from IPython.display import Markdown

from voltlib import display, paths
from voltlib.config import notebook_profile
from voltlib.forecast import staircase
from voltlib.paper import across_states, prose
from voltlib.paper.inputs import require_inputs
from voltlib.paper.plots import network_states as plots
from voltlib.sim import states
from voltlib.store import write_json

t_start = time.perf_counter()
cfg = notebook_profile(profile)
require_inputs(profile, "09_network_states")
results = paths.results_dir(profile)

# %% [markdown]
# ## The states, measured
# Each state runs at this profile's length and seeds; statistics are taken after the first
# 800 ms. *Irregular* means a mean CV of inter-spike intervals of at least 0.8, *regular* below 0.3;
# *synchronous* means a Fano factor of the 1-ms population count of at least 1.5 together with a
# population-rate spectrum whose peak stands at least 10 times above its median.

# %%
measured = across_states.measured(cfg)                 # archived by `make products`, else measured here
display.frame(across_states.states_frame(measured))

# %%
fig = plots.state_portraits({states.STATES[k].name: m.example for k, m in measured.items()})
plots.save_figure(fig, profile, "network_states.png");

# %%
Markdown(prose.render("states_measured", **across_states.measured_fields(measured)))

# %% [markdown]
# ## The forecasts, state by state
# Each 100-neuron state is forecast by the baselines and by the staircase member of notebook 08
# that infers the wiring from the run (the best member that reads only the recording at the quick
# profile), trained on that state's training runs from the same seeds, and bounded by its own oracle
# ceiling (Methods section 9: restarts of that state's network from its saved test-run states). The
# source's state reuses notebooks 02, 06 and 08's results for the same runs rather than computing
# them twice; the others are computed once per configuration by `make products` and committed under
# `results/archive/`, or, where that archive lacks them, computed by the build (on its Dask workers where
# there are any) and cached. The 1,000-neuron network is measured above but not forecast here.

# %%
products = across_states.gather(cfg, results)
Markdown(across_states.origins(cfg))

# %%
forecasts, ceilings, members = across_states.split(products)
display.frame(across_states.forecasts_frame(forecasts, cfg.data.horizons_ms[0]))

# %%
display.frame(across_states.reach_frame(forecasts, ceilings, members, cfg.data.horizons_ms[0]))

# %%
label = staircase.MEMBER_LABELS[across_states.STATE_MEMBER]
fig = plots.forecasts_by_state(cfg.data.horizons_ms, forecasts, {k: states.STATES[k].name for k in forecasts},
                               ceilings, {k: (label, m["scores"]) for k, m in members.items()})
plots.save_figure(fig, profile, "forecasts_by_state.png");

# %% [markdown]
# ## Transfer: trees and member trained in one state, tested in another
# The boosted trees read and predict millivolts, so trees trained on the source's state can forecast
# any other state's recording unchanged (each state's voltages z-scored by its own training runs for
# scoring). So can the staircase member: it reads millivolts, the spikes it detects and the wiring it
# infers from the run it forecasts, and predicts the change in the scale of the runs it was trained on.
# Each is compared with the same forecaster trained in the state it is tested in, on the same test
# windows; the asynchronous irregular state's are also tested on the source's.

# %%
trees, member = (across_states.transfer_panels(products, what) for what in ("trees", "member"))
panels = trees | member
display.frame(across_states.transfer_frame(panels, cfg.data.horizons_ms[0]))

# %%
fig = plots.transfer(cfg.data.horizons_ms, panels, colors=dict.fromkeys(member, plots.MEMBER_COLOR), ncols=len(trees))
plots.save_figure(fig, profile, "transfer_between_states.png");

# %%
Markdown("\n".join(prose.render("states_transfer", **across_states.transfer_fields(p, cfg.data.horizons_ms, what))
                   for what, p in (("trees", trees), ("member", member))))

# %% [markdown]
# ## Which verdicts hold
# Each verdict is a paired difference of test R² between two forecasters on the same held-out
# runs; its word is "holds" or "is reversed" only where the 95 % interval excludes zero.

# %%
scored = across_states.with_member(forecasts, members)
judged = across_states.judge(scored)
display.frame(across_states.verdicts_frame(judged))

# %%
Markdown(prose.render("states_verdicts", verdicts=judged, names={k: s.name for k, s in states.STATES.items()},
                      member=label, above_ceiling=across_states.above_ceiling(scored, ceilings)))

# %%
write_json(results / "states.json", across_states.record(measured, products, judged, cfg));

# %% tags=["nbval-ignore-output"]
print(f"09 took {time.perf_counter() - t_start:.0f} s; each state's product (s, where it was computed): "
      + ", ".join(f"{k} {display.number(p.get('wall_s'), '.0f')}" for k, p in products.items() if k != "source"))
