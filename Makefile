# Two commands (README, Quick start):  make study   |   make test
# Both set everything up first: a virtual environment with pinned packages (torch pinned to a
# CPU-available release, so no CUDA build is pulled on CPU-only machines).
# Python 3.11 or 3.12 (pyproject's requires-python): python3.11 where there is one, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
# Where pip finds torch. Empty: pip's own index, which on CPU-only machines without a local CPU
# wheel serves the CUDA build; TORCH_INDEX=https://download.pytorch.org/whl/cpu takes 2.13.0+cpu,
# the build the records were made with (README, Quick start).
TORCH_INDEX ?=
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
CONFIG ?= config/config.yaml
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup study test lint format clean restore dvc-yaml verify record publish pull benchmark-study gpu-check docs-results prefetch

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null || { \
	  echo "make setup: needs Python 3.11 or 3.12 (pyproject.toml's requires-python), and $(PYTHON) is" \
	    "$$($(PYTHON) --version 2>&1 || echo missing); install python3.11 or give one: make PYTHON=/path/to/python3.11" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

study: setup
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores $(CORES)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --lint --configfile config/smoke.yaml
	$(BIN)/python -m overopt.pipeline.deps > /dev/null   # no import against the DAG's direction
	$(BIN)/python -m overopt.pipeline.dvc_stages --check  # dvc.yaml is current
	$(BIN)/python -m overopt.pipeline.config_docs --check  # config/README.md is current

# dvc.yaml and params.yaml for the study of CONFIG (after adding a module, a rule, a stage or a
# config key, or to switch the study `dvc repro` runs)
dvc-yaml: setup
	$(BIN)/python -m overopt.pipeline.dvc_stages --config $(CONFIG) --write

format: setup
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules

RESTORE = HF_HUB_OFFLINE=1 $(BIN)/snakemake --configfile $(CONFIG) --touch --cores 1 --quiet
# After `dvc pull` (file times are arbitrary): mark the pulled outputs up to date in Snakemake's
# eyes, in DAG order, so only what is missing or changed reruns.
restore: setup
	$(RESTORE)

# Compare the study's artifacts with the record in digests/ (per stage: identical or which differ;
# headline numbers statistically where bytes cannot match). `make record` rewrites the record.
verify: setup
	$(BIN)/python -m overopt.pipeline.verify --config $(CONFIG)

record: setup
	$(BIN)/python -m overopt.pipeline.verify --config $(CONFIG) --record

# docs/results: the default study's findings, figures and tables, copied from the run that made
# digests/config.json (after `make record` on it); tests/test_docs.py checks them against the record
docs-results: setup
	$(BIN)/python -m overopt.pipeline.docs_results

# Publish: the DVC remote as a directory any static web host can serve (read-only, over HTTP).
# `dvc commit` first records what is in results/ and cache/judge (the judge's paid verdicts; empty
# for the gold judge) in dvc.lock (commit dvc.lock).
PUBLISH ?= public/dvc
publish: setup
	mkdir -p cache/judge
	$(BIN)/dvc commit --force
	$(BIN)/dvc remote add --local --force publish $(abspath $(PUBLISH))
	$(BIN)/dvc push --remote publish
	@echo "published to $(PUBLISH): serve that directory, and reviewers run make pull URL=<its URL>"

# Pull: the published artifacts (URL, or the configured remote), their file times restored for
# Snakemake (`make restore`), then `dvc status` must report nothing changed.
URL ?=
pull: setup
	@[ -n "$(URL)" ] || $(BIN)/dvc remote default > /dev/null 2>&1 || \
	  { echo "make pull: no DVC remote; give the published one: make pull URL=<its URL>" >&2; exit 2; }
	$(if $(URL),$(BIN)/dvc remote add --local --force published $(URL))
	$(BIN)/dvc pull $(if $(URL),--remote published)
	$(RESTORE)
	$(BIN)/dvc status --quiet || { $(BIN)/dvc status; exit 1; }
	@echo "pulled: everything is up to date (make verify compares it with the record)"

# The whole study's cost from an empty results/ in a temporary directory (benchmarks/study.py):
# wall, jobs, CPU by rule, the share outside the jobs' own work, peak RSS.
benchmark-study: setup
	$(BIN)/python benchmarks/study.py --config $(CONFIG) --cores $(if $(filter all,$(CORES)),$(shell nproc),$(CORES)) --json benchmarks/study-$(basename $(notdir $(CONFIG))).json

# Where the network is (a login node): every Hub model and dataset CONFIG names into the Hugging
# Face cache (HF_HOME), so that jobs on compute nodes without network find them; then checks.
prefetch: setup
	$(BIN)/python -m overopt.pipeline.prefetch --config $(CONFIG)

# On a machine with a GPU: the smoke study on CUDA and one step of each training rule at Pythia-1B's
# shape (time per step, peak memory, same bytes twice); a no-op that says so elsewhere.
gpu-check: setup
	PYTHON=$(BIN)/python bash benchmarks/gpu_check.sh

clean:
	rm -rf results logs .snakemake cache
