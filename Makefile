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
.PHONY: help env lint test test-lab test-scheduler nbval golden report budget bench lab clean clean-cache

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  PROFILE=smoke|quick|paper (default quick) selects the scale of 'make report'"
	@echo "  WORKERS=N (default: one per core; 1 trains in-process) or SCHEDULER=tcp://host:8786: where its trainings run"

env: $(STAMP) ## Build .venv (pinned packages, voltlib editable, the 'voltlib' Jupyter kernel)

# The interpreter is checked before anything is installed (PYTHON when .venv is still to be made,
# else .venv's own): a wrong one otherwise fails minutes into pip (brian2 2.9.0 and torch 2.13.0 are
# pinned for Python 3.11).
VERSION_OF = $$($(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

$(STAMP): requirements.txt pyproject.toml
	@v=$(call VERSION_OF,$(PYTHON)); test -e $(VENV) || test "$$v" = 3.11 || { echo "error: PYTHON=$(PYTHON) is $${v:+Python $$v, }not \
	a working Python 3.11, which the pinned packages need. Install Python 3.11 and pass its path: \
	make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; }
	@v=$(call VERSION_OF,$(PY)); test ! -e $(VENV) || test "$$v" = 3.11 || { echo "error: $(VENV) is not a \
	Python 3.11 environment (its python is $${v:-missing or broken}). Remove it (rm -rf $(VENV)) \
	or move it away, then run make $(MAKECMDGOALS) again." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name voltlib --display-name "Python 3.11 (voltlib)" >/dev/null
	touch $@

lint: $(STAMP) ## ruff: the linter over everything, the formatter's check over voltlib and tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --quiet .

test: $(STAMP) ## Lint, unit tests, a smoke run of the notebooks, and the nbval regression checks
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory nbval

test-scheduler: $(STAMP) ## Build the smoke report on a loopback `dask scheduler` + `dask worker` and in-process: same numbers
	VOLTLIB_TEST_SCHEDULER_REPORT=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_scheduler_report.py

nbval: $(STAMP) ## Replay the stored smoke notebooks with nbval against the project's kernel
	$(PY) -m voltlib.golden check

golden: $(STAMP) ## Regenerate the stored smoke notebooks that nbval replays
	$(PY) -m voltlib.golden make

# SCHEDULER=tcp://host:8786 trains on an existing Dask cluster; WORKERS=N sizes the embedded one (1: no Dask)
report: $(STAMP) ## Run the notebooks for PROFILE and assemble report/PROFILE/technical_report.html
	$(PY) -m voltlib.pipeline --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(WORKERS),--workers $(WORKERS))

# The study is archived under results/archive/ and committed; make report reads it and never retrains it.
# UP_TO=320000 trains only the budgets up to that many window-passes; NOTE="..." goes into the provenance.
budget: $(STAMP) ## The training-budget study (hours on 2 cores; resumable): trains what results/archive/PROFILE/budget lacks
	$(PY) -m voltlib.budget --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(WORKERS),--workers $(WORKERS)) $(if $(UP_TO),--up-to $(UP_TO)) $(if $(NOTE),--note "$(NOTE)")

bench: $(STAMP) ## Training and inference benchmarks -> results/bench.json
	$(PY) -m voltlib.bench

# Agg in the lab would leave every figure cell empty and the explorer blank. The lab serves the
# notebooks of the project root voltlib uses (VOLTLIB_ROOT if set); lab/ holds its default settings.
# LAB_ARGS passes further options, e.g. LAB_ARGS="--no-browser --port=8899".
lab: export MPLBACKEND := module://matplotlib_inline.backend_inline
lab: $(STAMP) ## Open JupyterLab with the project's kernel (notebooks/*.py open as notebooks on a double-click)
	$(VENV)/bin/jupyter lab --notebook-dir=$(or $(VOLTLIB_ROOT),$(CURDIR))/notebooks \
		--LabApp.app_settings_dir=$(CURDIR)/lab $(LAB_ARGS)

test-lab: $(STAMP) ## Drive `make lab` in headless Chromium: every notebook opens, runs, saves unchanged; 06 explores
	$(PY) tests/lab/drive_lab.py --all

# results/archive/ holds the committed long studies: never removed by a clean
clean: ## Remove build outputs and reports (keeps the simulation and training caches and results/archive)
	rm -rf build report/*/ $(filter-out results/archive,$(wildcard results/*))

clean-cache: ## Remove the cached simulations and trained models as well
	rm -rf data build report/*/ $(filter-out results/archive,$(wildcard results/*))
