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
# # Forecasting the membrane voltage of a simulated spiking network: a reproduction, a leak, and a ceiling

# %% [markdown] tags=["remove-cell"]
# This notebook runs last (it reads every other notebook's results from `results/<profile>/`) and
# is shown first. Every number below is filled in from those files; a result that a notebook has
# not written yet is reported as such. Its cells tagged `discussion` close the report.

# %% tags=["parameters"]
profile = "smoke"

# %%
from IPython.display import Markdown

from voltlib.config import SOURCE_R2, notebook_profile
from voltlib.paper import budget, prose
from voltlib.paper import summary as S
from voltlib.paper.inputs import require_inputs

cfg = notebook_profile(profile)
require_inputs(profile, "00_abstract")
R = S.load_results(profile)
h = S.headline(R)  # the headline numbers at 1 ms, the source's task; None where no notebook wrote them

# %% [markdown]
# ## Abstract

# %%
Markdown(prose.render("abstract", **h))

# %%
budget_findings = budget.headline(budget.load_archive(profile), R["baselines"])
Markdown(budget.abstract_sentence(budget_findings, h["clean_r2"], budget.ladder_budget(cfg)))

# %%
S.headline_table(R)

# %%
Markdown(f"*Table 1.* Pooled R² of the 1 ms forecast on the test set (z-scored voltages), profile *{profile}*, "
         "with its 95 % interval (bootstrap over test runs and training seeds). "
         "– : not run by the source, or not computed in this build.")

# %%
# the headline numbers, rounded, for the stored-notebook regression check (nbval)
print(" | ".join(f"{k} {S.num(h[f])}" for k, f in
                 [("source", "source_r2"), ("original", "original_r2"), ("clean", "clean_r2"),
                  ("persistence", "persistence_r2"), ("best baseline", "best_baseline_r2"), ("ceiling", "ceiling_r2")]))

# %% [markdown]
# ## Method in brief

# %%
Markdown(prose.render("method_in_brief", profile=profile, cfg=cfg))

# %% [markdown]
# The Methods chapter at the end of this report (the repository's `METHODS.md`) states each method
# in full, in fourteen numbered sections that the notebooks and the code cite: the network, the
# simulation, the task, both protocols, the models, training, the baselines, the metrics, the
# ceiling, the profiles, the forecasters that go beyond the source, the runs as NWB files, the
# training-budget study and the network states.

# %% [markdown] tags=["discussion"]
# # Discussion

# %% tags=["discussion"]
Markdown(prose.render("discussion", **h, source_phase1_r2=SOURCE_R2["phase1_lstm"],
                      budget_words=budget.budget_words(budget.ladder_budget(cfg)),
                      budget_point=budget.discussion_point(budget_findings, budget.ladder_budget(cfg))))

# %% tags=["discussion"]
Markdown(prose.render("findings", findings=S.findings(R)))

# %% [markdown] tags=["discussion"]
# ## Limitations

# %% tags=["discussion"]
Markdown(prose.render("limitations", profile=profile, cfg=cfg, paper=profile == "paper", n_seeds=h["n_seeds"],
                      budget_limitation=budget.limitation_sentence(budget_findings), devices=S.devices(R)))
