"""Shared fixtures: small, fast run specs and study configs."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"

# The suite runs the numpy path, in this process and in the runs it starts: every
# new (factors, sizes, moves) combination would compile its numba kernels (6-15 s
# each, on a fresh machine every time).  tests/test_kernels.py turns them on and
# checks that they run the numpy path's chains.  NQSFLOW_KERNELS=1 runs it all on them.
os.environ.setdefault("NQSFLOW_KERNELS", "0")


# a fuzz case's marker for "leave this key out"
MISSING = object()


def mutated(config: dict, path, wrong) -> dict:
    """A deep copy of a nested config with the leaf at ``path`` set to ``wrong``
    (removed where ``wrong`` is :data:`MISSING`)."""
    out = copy.deepcopy(config)
    node = out
    for key in path[:-1]:
        node = node[key]
    if wrong is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = wrong
    return out


def tool(name: str) -> str:
    """Path of a console tool (mpiexec, snakemake) from the venv, else from PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: run the tests through `make test`")
    return found


@pytest.fixture
def dot_spec():
    """Two electrons in a 2D dot at omega = 1, Gaussian x Pade-Jastrow, a short run."""
    return {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "gaussian", "alpha": 1.0}, {"kind": "pade_jastrow", "beta": 0.4}],
        "sampler": {"kind": "langevin", "walkers": 400, "step": 0.2, "burn_in": 100, "thin": 4},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": 80, "samples": 2000},
        "production": {"samples": 80000},
        "seed": 11,
    }


@pytest.fixture
def study_config():
    """The default study, deep-copied so a test may edit it."""
    with open(REPO / "config" / "config.yaml") as fh:
        return copy.deepcopy(yaml.safe_load(fh))
