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
# # 3. Phase 1: the basic LSTM, next to the naive baselines
#
# The source's first model is a 2-layer LSTM (hidden 256, dropout 0.3) whose output at the last
# time step goes through one linear layer to the 100 next voltages. It reported R² = 0.511.
# We train it on both protocols with the same data every later phase uses, and put it beside the
# baselines of notebook 02, which the source never ran (Methods section 5).
#
# Every phase trains alike (Methods section 6): Adam on the mean squared error in z units over
# shuffled mini-batches, gradients clipped to norm 1, the learning rate lowered when the validation
# loss stops falling, early stopping, and the best-validation weights kept. Phase 1 uses learning
# rate 1e-3, no weight decay, plateau factor 0.5 and patience 10. Below the paper profile the widths
# are narrower and the schedules shorter (Methods section 10).

# %% tags=["parameters"]
profile = "smoke"
device = None        # None: CUDA, then Apple MPS, then CPU (or the VOLTLIB_DEVICE variable)

# %%
import pandas as pd
from IPython.display import Markdown

from voltlib import display, paths
from voltlib.config import SOURCE_R2, notebook_profile
from voltlib.device import describe, pick_device
from voltlib.forecast import ladder
from voltlib.paper import summary
from voltlib.paper.inputs import require_inputs
from voltlib.sim.simulate import simulate
from voltlib.store import horizon_key, read_json

cfg = notebook_profile(profile, device)
require_inputs(profile, "03_baseline_lstm")
dev = pick_device(device)
datasets = ladder.load_datasets(cfg, simulate(cfg.sim, progress=False))
model_cfg, train_cfg = cfg.phases["phase1_lstm"]
Markdown(f"Profile **{profile}**: hidden {model_cfg.hidden} x {model_cfg.layers} layers (source: 256 x 2), "
         f"at most {train_cfg.max_epochs} epochs (source: up to 200, early stop 10), lr {train_cfg.lr:g}, "
         f"device {describe(dev)}.")

# %%
phase1 = ladder.run_phases(cfg, ["phase1_lstm"], datasets, dev)

# %% [markdown]
# ## Phase 1 against the naive baselines (1 ms ahead, test windows)

# %%
baselines = read_json(paths.results_dir(profile) / "baselines.json")
table = pd.DataFrame({protocol: {**{name: summary.baseline_r2(baselines, protocol, name) for name in baselines[protocol]},
                                 "phase 1 LSTM (ours)": phase1[protocol]["phase1_lstm"]["r2"]}
                      for protocol in datasets})
table["source report"] = pd.Series({"phase 1 LSTM (ours)": SOURCE_R2["phase1_lstm"]})
display.frame(table.rename_axis("test R² at 1 ms"))

# %%
def verdict(protocol):
    entry = phase1[protocol]["phase1_lstm"]
    base = {k: v[horizon_key(1)] for k, v in baselines[protocol].items()}
    best, _ = summary.best_baseline(baselines, protocol)
    words = {k: summary.compare(entry, b)["verdict"] for k, b in base.items()}  # paired, over test runs
    above, below = ([k for k, w in words.items() if w == side] for side in ("higher", "lower"))
    return (f"Under the **{protocol}** protocol the basic LSTM reaches R² = {entry['r2']:.3f}: "
            f"persistence gives {base['persistence']['r2']:.3f} and the best baseline ({display.name(best)}) {base[best]['r2']:.3f}; "
            f"of the {len(base)} baselines the LSTM scores higher than {len(above)} and lower than {len(below)} "
            f"by more than their paired 95 % intervals, and is not distinguishable from {len(base) - len(above) - len(below)}.")

Markdown(" ".join(verdict(p) for p in datasets) +
         f" The source's 0.511 for this model was "
         f"{'below' if SOURCE_R2['phase1_lstm'] < baselines['clean']['persistence']['1']['r2'] else 'above'} "
         f"what predicting the last value already achieves on our clean test runs "
         f"({baselines['clean']['persistence']['1']['r2']:.3f}).")
