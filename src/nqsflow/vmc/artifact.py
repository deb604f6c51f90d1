"""The VMC artifact: estimate, optimisation trace and parameters of one run.

Its ``config`` attribute is the resolved run spec
(:func:`~nqsflow.vmc.runspec.resolved_runspec`): the spec as given with every
default the run took written out, so the file says how it was made without the
code of the version that made it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.errors import DivergenceError
from nqsflow.vmc.driver import VMCResult
from nqsflow.vmc.runspec import resolved_runspec

SCHEMA = "nqsflow.vmc/1"


def result_tree(result: VMCResult) -> dict[str, Any]:
    """Artifact layout of a run: ``/estimate`` attrs, ``/optimization``, ``/parameters``."""
    history = dict(result.history)
    return {
        "estimate": {
            "@attrs": {
                "energy": result.energy,
                "energy_error": result.energy_error,
                "variance": result.variance,
                "acceptance": result.acceptance,
                "samples": result.samples,
                # tau in rounds of moves_per_round moves; ess = samples / tau
                "tau": result.tau,
                "ess": result.ess,
                "tau_window": result.tau_window,
                "moves_per_round": result.moves_per_round,
            },
            "energy_series": result.energy_series,
        },
        "optimization": {
            "@attrs": {"converged_at": result.converged_at},
            **{k: v for k, v in history.items() if k != "parameters"},
        },
        "density": _density_tree(result.histograms),
        "parameters": {
            "@attrs": {"names": list(result.param_names)},
            "initial": result.params_initial,
            "final": result.params_final,
            "trace": history["parameters"],
        },
    }


def _density_tree(histograms: Mapping[str, Any]) -> dict[str, Any]:
    """Histograms as densities normalised to one over their range, with edges and counts."""
    tree: dict[str, Any] = {}
    for name in ("radial", "pair"):
        edges, counts = histograms[f"{name}_edges"], histograms[f"{name}_counts"]
        total = counts.sum()
        density = counts / (total * np.diff(edges)) if total else np.zeros_like(counts)
        tree[name] = {"edges": edges, "counts": counts, "density": density}
    return tree


def write_result(
    path: str | os.PathLike, spec: Mapping[str, Any], result: VMCResult, mpi_ranks: int
) -> None:
    """Write a run's artifact atomically, with the resolved run spec as its config.

    Refuses (:class:`DivergenceError`, nothing written) an estimate that is not
    finite: a later stage must never read a ``nan`` as an energy.
    """
    for name in ("energy", "energy_error", "variance"):
        value = getattr(result, name)
        if not np.isfinite(value):
            raise DivergenceError(0, name, f"the {name} is {value}")
    attrs = provenance(SCHEMA, resolved_runspec(spec), seed=spec["seed"], mpi_ranks=mpi_ranks)
    write_artifact(path, result_tree(result), attrs)
