# The paper's build. `make help` lists the verbs.
SHELL := /bin/bash
PYTHON ?= python3.11
PROFILE ?= quick
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.voltlib-installed

# Papermill and nbval must find the project's kernel, never a user-level one of the same name.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export JUPYTER_PLATFORM_DIRS := 1
# Plain Python draws off screen; the lab's kernels draw inline (see the lab target).
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.DEFAULT_GOAL := help
.PHONY: help env lint format test test-lab test-scheduler nbval golden report budget products bench lab clean clean-cache nwb forecast

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  PROFILE=smoke|quick|paper (default quick) selects the scale of 'make report'"
	@echo "  WORKERS=N (default: one per core; 1 trains in-process) or SCHEDULER=tcp://host:8786: where its trainings run"

env: $(STAMP) ## Build .venv (pinned packages, voltlib editable, the 'voltlib' Jupyter kernel)

# The interpreter is checked before anything is installed (PYTHON when .venv is still to be made,
# else .venv's own): a wrong one otherwise fails minutes into pip (brian2 2.9.0 and torch 2.13.0 are
# pinned for Python 3.11; every pin installs on 3.11.0 and later, so Debian 12's 3.11.2 will do).
# .venv is ours once MADE is in it and complete once STAMP is, written last: a .venv with MADE but
# no STAMP was left by a make env that pip failed or a stop cut short, and is built again from
# scratch with PYTHON; one with neither is someone else's and is named, never overwritten.
VERSION_OF = $$($(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
MADE := $(VENV)/.voltlib-made
# the interpreter a venv was made from, or that PYTHON runs, with its links resolved
BASE_OF_VENV = $$(sed -n 's/^executable *= *//p' $(VENV)/pyvenv.cfg 2>/dev/null | xargs -r -d '\n' realpath -m 2>/dev/null)
BASE_OF_PYTHON = $$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null)

$(STAMP): requirements.txt pyproject.toml | python-given
	@if test -e $(MADE) && ! test -e $@; then echo "$(VENV) was left by an install that did not finish \
	(pip failed or was stopped): building it again with PYTHON=$(PYTHON)" >&2; rm -rf $(VENV); fi
	@v=$(call VERSION_OF,$(PYTHON)); test -e $(VENV) || test "$$v" = 3.11 || { echo "error: PYTHON=$(PYTHON) is $${v:+Python $$v, }not \
	a working Python 3.11, which the pinned packages need. Install Python 3.11 and pass its path: \
	make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; }
	@v=$(call VERSION_OF,$(PY)); test ! -e $(VENV) || test "$$v" = 3.11 || { echo "error: $(VENV) is not a \
	Python 3.11 environment (its python is $${v:-missing or broken}). Remove it (rm -rf $(VENV)) \
	or move it away, then run make $(MAKECMDGOALS) again." >&2; exit 1; }
	@test ! -e $(VENV) || test -e $(MADE) || test -e $@ || { echo "error: $(VENV) exists but was not made by \
	make env (or by one that did not finish), so it is left alone. Remove it (rm -rf $(VENV)) or move it \
	away, then run make $(MAKECMDGOALS) again." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@touch $(MADE)
	@{ $(PY) -m pip install --quiet --upgrade "pip>=24" \
	&& $(PY) -m pip install --quiet -r requirements.txt \
	&& $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . \
	&& $(PY) -m ipykernel install --sys-prefix --name voltlib --display-name "Python 3.11 (voltlib)" >/dev/null; } \
	|| { rm -rf $(VENV); echo "error: pip could not install the pinned packages into $(VENV) (its messages \
	are above); $(VENV) was removed. Fix what pip names, then run make $(MAKECMDGOALS) again." >&2; exit 1; }
	touch $@

# A PYTHON passed to make (or exported) while a complete .venv was made from another interpreter is
# said, not ignored (an incomplete or foreign .venv is the recipe's to name).
.PHONY: python-given
python-given:
	@! test -e $(STAMP) || case "$(origin PYTHON)" in command*|environment*) \
	made=$(BASE_OF_VENV); given=$(BASE_OF_PYTHON); \
	test -z "$$made" || test -z "$$given" || test "$$made" = "$$given" || { echo "error: PYTHON=$(PYTHON) \
	($$given) was given, but $(VENV) was made from $$made. To rebuild it with PYTHON: rm -rf $(VENV) && \
	make env PYTHON=$(PYTHON); or leave PYTHON out to use $(VENV) as it is." >&2; exit 1; };; esac

lint: $(STAMP) ## ruff (the linter over everything, the formatter's check over voltlib and tests) and mypy over voltlib
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --quiet .
	$(PY) -m mypy

format: $(STAMP) ## Fix what the linter can (imports sorted, old idioms) and format voltlib, tests and the tools
	$(VENV)/bin/ruff check --fix --quiet .
	$(VENV)/bin/ruff format --quiet .

test: $(STAMP) ## Lint, unit tests and the nbval replay of the stored smoke notebooks
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory nbval

test-scheduler: $(STAMP) ## Smoke reports on a loopback `dask scheduler` + `dask worker`, in-process, side by side, WORKERS=3, stopped by Ctrl-C: same numbers
	VOLTLIB_TEST_SCHEDULER_REPORT=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_scheduler_report.py tests/test_layouts.py

nbval: $(STAMP) ## Replay the stored smoke notebooks with nbval against the project's kernel
	$(PY) -m voltlib.workflow.golden check

golden: $(STAMP) ## Regenerate the stored smoke notebooks that nbval replays
	$(PY) -m voltlib.workflow.golden make

# SCHEDULER=tcp://host:8786 trains on an existing Dask cluster; WORKERS=N sizes the embedded one (1: no Dask)
report: $(STAMP) ## Run the notebooks for PROFILE and assemble report/PROFILE/technical_report.html and .pdf
	$(PY) -m voltlib.workflow.pipeline --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(WORKERS),--workers $(WORKERS))
	$(PY) -m voltlib.workflow.browser --profile $(PROFILE)

nwb: $(STAMP) ## Every simulated run of PROFILE as an NWB file in build/nwb/PROFILE/, checked by nwbinspector
	$(PY) -m voltlib.sim.nwb --profile $(PROFILE)

# FILE=recording.nwb|.npz|.npy (an .npy needs RATE=Hz and UNIT=V|mV); OUT=folder (default build/forecast/<name>/)
forecast: $(STAMP) ## Forecast any recording: FILE=x.nwb (or .npz/.npy) -> R^2 by horizon, HTML + JSON
	@test -n "$(FILE)" || { echo "error: no recording given. Pass one: make forecast FILE=path/to/recording.nwb \
	(or an .npz with v, rate_hz and unit; see README)" >&2; exit 1; }
	$(PY) -m voltlib.workflow.forecast_recording "$(FILE)" $(if $(OUT),--out "$(OUT)") $(if $(RATE),--rate-hz $(RATE)) \
		$(if $(UNIT),--unit $(UNIT)) --profile $(or $(FORECAST_PROFILE),quick)

# The study is archived under results/archive/ and committed; make report reads it and never retrains it.
# UP_TO=320000 trains only the budgets up to that many window-passes; NOTE="..." goes into the provenance.
budget: $(STAMP) ## The training-budget study (hours on 2 cores; resumable): trains what results/archive/PROFILE/budget lacks
	$(PY) -m voltlib.workflow.budget_run --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(WORKERS),--workers $(WORKERS)) $(if $(UP_TO),--up-to $(UP_TO)) $(if $(NOTE),--note "$(NOTE)")

# Notebook 09's network states and their statistics, notebook 10's observer and notebook 07's shuffled-order fits,
# too long for make report's 30 minutes, archived under
# results/archive/PROFILE/ and committed; make report reads them and never recomputes an archived one.
# NOTE="..." goes into each product's provenance.
products: $(STAMP) ## The long products of notebooks 07, 09 and 10 (quick: about 25 min on 2 cores; resumable): computes what results/archive/PROFILE lacks
	$(PY) -m voltlib.workflow.products_run --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(WORKERS),--workers $(WORKERS)) $(if $(NOTE),--note "$(NOTE)")

bench: $(STAMP) ## Training and inference benchmarks -> results/bench.json
	$(PY) -m voltlib.workflow.bench

# Agg in the lab would leave every figure cell empty and the explorer blank. The lab serves the
# notebooks of the project root voltlib uses (VOLTLIB_ROOT if set); lab/ holds its default settings.
# LAB_ARGS passes further options, e.g. LAB_ARGS="--no-browser --port=8899".
# A kernel whose notebook tab was closed (no browser connected) is shut down once it has been idle
# LAB_KERNEL_IDLE_S seconds (a closed notebook's kernel holds 0.5-0.8 GB); one still running a cell
# is left to finish. The lab's own "shut down kernel on close" setting does not reach notebooks that
# jupytext opens, so the server does it; `make test-lab` checks it.
LAB_KERNEL_IDLE_S ?= 60
lab: export MPLBACKEND := module://matplotlib_inline.backend_inline
lab: $(STAMP) ## Open JupyterLab with the project's kernel (notebooks/*.py open as notebooks on a double-click)
	$(VENV)/bin/jupyter lab --notebook-dir="$(or $(VOLTLIB_ROOT),$(CURDIR))/notebooks" \
		--LabApp.app_settings_dir="$(CURDIR)/lab" \
		--MappingKernelManager.cull_idle_timeout=$(LAB_KERNEL_IDLE_S) --MappingKernelManager.cull_interval=10 \
		--MappingKernelManager.cull_connected=False --MappingKernelManager.cull_busy=False $(LAB_ARGS)

test-lab: $(STAMP) ## Headless Chromium: `make lab` (every notebook opens, runs, saves unchanged; 06 explores), the smoke report and its PDF
	$(PY) tests/lab/drive_lab.py --all
	$(PY) tests/lab/check_report.py

# results/archive/ holds the committed long studies: never removed by a clean
clean: ## Remove build outputs and reports (keeps the simulation and training caches and results/archive)
	rm -rf build report/*/ $(filter-out results/archive,$(wildcard results/*))

clean-cache: ## Remove the cached simulations and trained models as well
	rm -rf data build report/*/ $(filter-out results/archive,$(wildcard results/*))
