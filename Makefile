# Two commands (README, Quick start):  make study   |   make test
# Both set everything up first: a virtual environment with pinned packages (torch pinned to a
# CPU-available release, so no CUDA build is pulled on CPU-only machines).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup study test lint format clean restore dvc-yaml

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
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
	$(BIN)/python -m overopt.core.deps > /dev/null   # no import against the DAG's direction
	$(BIN)/python -m overopt.core.dvc_stages --check  # dvc.yaml is current

# dvc.yaml from the import graph (after adding a module, a rule or a stage)
dvc-yaml: setup
	$(BIN)/python -m overopt.core.dvc_stages > dvc.yaml

format: setup
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules

# After `dvc pull` (file times are arbitrary): mark the pulled outputs up to date in Snakemake's
# eyes, in DAG order, so only what is missing or changed reruns.
CONFIG ?= config/config.yaml
restore: setup
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --configfile $(CONFIG) --touch --cores 1 --quiet

clean:
	rm -rf results logs .snakemake cache
