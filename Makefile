# Quickstart: `make run` (default study) and `make test` (the test suite).
# Both create .venv and install nqsflow with its dependencies on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
CORES  ?= all
# the rules call `python` and `mpiexec`: take both from the venv
export PATH := $(BIN):$(PATH)

.PHONY: setup run dry-run test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES)

dry-run: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) -n

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf results/*/ logs/ .snakemake/
