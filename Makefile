# Quickstart: `make run` (default study), `make run STUDY=nuclear-masses` (a study of
# config/examples/), and `make test` (the test suite).
# Both create .venv and install nqsflow with its dependencies on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
CORES  ?= all
STUDY  ?=
# STUDY=name runs config/examples/name.yaml instead of config/config.yaml
STUDY_ARGS := $(if $(STUDY),--configfile config/examples/$(STUDY).yaml)
# the rules call `python` and `mpiexec`: take both from the venv
export PATH := $(BIN):$(PATH)

.PHONY: setup run dry-run test test-slurm lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) $(STUDY_ARGS)

dry-run: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) $(STUDY_ARGS) -n

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

# Opt-in: the workflow through `snakemake --executor slurm` on a real one-node SLURM
# cluster on localhost (needs root and apt; see $(SLURM_DIR)/README.md). The cluster
# is torn down whatever happens; the exit status is the test's (or up.sh's).
SLURM_DIR ?= $(CURDIR)/../shared/slurm
test-slurm: $(STAMP)
	@test -f $(SLURM_DIR)/up.sh || { echo "test-slurm: no $(SLURM_DIR)/up.sh (set SLURM_DIR)" >&2; exit 2; }
	@status=0; \
	bash $(SLURM_DIR)/up.sh && \
	NQSFLOW_SLURM=1 $(BIN)/python -m pytest -v -m slurm tests/slurm || status=$$?; \
	bash $(SLURM_DIR)/down.sh; \
	exit $$status

# ruff's linter only: the numerical code is laid out by hand (ruff format would put
# each index of a packed header on its own line), so there is no format check
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf results/*/ logs/ .snakemake/
