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
# # 4. Phases 2 and 3: a larger LSTM, then residual connections
#
# Phase 2 is a 3-layer LSTM (hidden 512) and phase 3 a 2-layer LSTM (hidden 384); both read out
# through a residual + LayerNorm head: the LSTM's last output, layer-normalised, plus a linear map of
# the window's last input sample. The source changed its data settings between these phases
# (windows of 100 with stride 10, noise 0.3 mV, 1000 ms discard); here every phase sees the same data,
# so the ladder compares architectures and nothing else (Methods section 5). Phase 2 trains at
# learning rate 5e-3 after 10 warm-up epochs, phase 3 at 2e-3 after 5 (Methods section 6).

# %% tags=["parameters"]
profile = "smoke"
device = None

# %%
from IPython.display import Markdown

from voltlib.config import notebook_profile
from voltlib.device import pick_device
from voltlib.forecast import ladder
from voltlib.paper.inputs import require_inputs
from voltlib.sim.simulate import simulate

cfg = notebook_profile(profile, device)
require_inputs(profile, "04_lstm_ladder")
dev = pick_device(device)
datasets = ladder.load_datasets(cfg, simulate(cfg.sim, progress=False))

# %%
phases = ladder.run_phases(cfg, ["phase2_large_lstm", "phase3_lstm_res"], datasets, dev)

# %% tags=["nbval-ignore-output"]
ladder.ladder_table(profile, "clean")

# %%
def step(protocol):
    e = ladder.ladder_numbers(profile, protocol)["R²"]
    return (f"**{protocol}**: phase 1 {e.iloc[0]:.3f} -> phase 2 {e.iloc[1]:.3f} -> phase 3 {e.iloc[2]:.3f}"
            if len(e) >= 3 else f"**{protocol}**: " + ", ".join(f"{k} {v:.3f}" for k, v in e.items()))

Markdown("Test R² along the ladder, " + "; ".join(step(p) for p in datasets) +
         ". The source reported 0.511 -> 0.526 -> 0.615, with different data settings at each step.")
