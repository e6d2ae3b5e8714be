# Two commands (README, Quick start):  make study   |   make test
# Both set everything up first: a virtual environment with pinned packages (torch pinned to a
# CPU-available release, so no CUDA build is pulled on CPU-only machines).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup study test lint format clean

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

format: setup
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules

clean:
	rm -rf results logs .snakemake cache
