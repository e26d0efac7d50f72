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
# # 1. The network: a Brunel network simulated in Brian2
#
# The data of the whole paper come from independent runs (50 x 10 s at the quick and paper profiles,
# fewer and shorter at smoke) of a sparse network of 100
# leaky integrate-and-fire neurons (80 excitatory, 20 inhibitory), each connection present with
# probability 0.1, driven by external Poisson input at the threshold rate and a small white-noise
# current (Methods sections 1-2; every value is the source's). The membrane voltage of every
# neuron is recorded every 1 ms, spikes exactly. Here we simulate the runs (or load them from the
# cache, named by a hash of the configuration) and check that the network is in the regime the
# source reported: about 30 Hz and a CV of inter-spike intervals of 0.41.

# %% tags=["parameters"]
profile = "smoke"

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown

from voltlib import display, paths
from voltlib.config import notebook_profile
from voltlib.paper.plots import network as plots
from voltlib.sim.simulate import simulate
from voltlib.sim.stats import network_stats
from voltlib.store import write_json

cfg = notebook_profile(profile)
net = cfg.sim.network

# %% [markdown]
# ## Simulation
# One C++ program is built from the Brian2 model and rerun with seed 72 + r for run r; the seed fixes
# the run's random graph, initial voltages, noise and Poisson input. It integrates with Euler steps of
# 0.1 ms and records every voltage every 1 ms (Methods section 2).

# %%
sim = simulate(cfg.sim, progress=False)
stats = network_stats(sim)
Markdown(f"{sim.n_runs} runs x {cfg.sim.duration_s:g} s at dt = {cfg.sim.dt_ms} ms "
         f"(voltage every {cfg.sim.record_dt_ms:g} ms): {sim.v_mv.nbytes / 1e6:.0f} MB of float32 voltages. "
         + (f"Simulating took {sim.run_s.sum():.1f} s of C++ run time" if np.isfinite(sim.run_s).all()
            else "Simulating time was not recorded in these cache files")
         + f" ({'loaded from the cache now' if sim.wall_s == 0 else f'{sim.wall_s:.1f} s wall time now, build included'}). "
         f"External drive: {net.c_ext} Poisson sources per neuron at {net.nu_ext_hz:.0f} Hz.")

# %% [markdown]
# ## Spikes and voltages

# %%
fig = plots.raster_and_traces(sim, run=0, t0_ms=min(1000.0, cfg.sim.duration_s * 1000 - 500))
plots.save_figure(fig, profile, "simulation_raster.png");

# %% [markdown]
# ## Is this the source's regime?

# %%
fig = plots.rate_cv_histograms(stats["rates_hz"], stats["cvs"], net.n_exc)
plots.save_figure(fig, profile, "simulation_rates_cv.png");

# %%
discard = int(cfg.data.discard_ms / cfg.sim.record_dt_ms)
v_var_mv2 = float(sim.v_mv[:, discard:].var(axis=1).mean())
table = pd.DataFrame({
    "ours": [stats["rate_hz"], stats["rate_hz_exc"], stats["rate_hz_inh"], stats["cv_isi"], v_var_mv2],
    "source": [30.0, None, None, 0.41, 33.0],
}, index=["mean rate (Hz)", "excitatory rate (Hz)", "inhibitory rate (Hz)", "mean CV of ISIs",
          "voltage variance per neuron after 800 ms (mV²)"])
display.frame(table, ".2f")

# %%
results = {
    "rate_hz": stats["rate_hz"], "rate_hz_exc": stats["rate_hz_exc"], "rate_hz_inh": stats["rate_hz_inh"],
    "cv_isi": stats["cv_isi"], "v_var_mv2": v_var_mv2, "v_sd_mv": v_var_mv2 ** 0.5,
    "rate_hz_per_run": stats["rate_hz_per_run"], "n_runs": sim.n_runs, "duration_s": cfg.sim.duration_s,
    "n_neurons": net.n_neurons, "wall_s": float(sim.run_s.sum()), "from_cache": sim.wall_s == 0,
}
write_json(paths.results_dir(profile) / "simulation.json", results)
print(f"rate {stats['rate_hz']:.1f} Hz (E {stats['rate_hz_exc']:.1f}, I {stats['rate_hz_inh']:.1f}), "
      f"CV {stats['cv_isi']:.2f}, voltage SD {v_var_mv2 ** 0.5:.1f} mV")

# %%
in_regime = 25 <= stats["rate_hz"] <= 38 and 0.33 <= stats["cv_isi"] <= 0.50
Markdown(f"Our network fires at {stats['rate_hz']:.1f} Hz with a CV of {stats['cv_isi']:.2f}; the source reported "
         f"about 30 Hz and 0.41, and its script rerun gives 29.5-30.8 Hz and 0.40-0.41. "
         + ("We are in the source's regime. " if in_regime else "**This is outside the source's regime.** ")
         + f"The voltage's SD of {v_var_mv2 ** 0.5:.1f} mV sets the scale of one z unit in the rest of the paper. "
         "Voltages sit mostly between reset and threshold and fall by "
         f"{net.theta_mv - net.v_reset_mv:.0f} mV at every spike: those resets are where forecasting will fail.")
