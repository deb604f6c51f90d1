"""The defaults of a VMC run spec, declared once, and the spec with all of them written out.

:func:`resolved_runspec` fills in every default a run takes.  The builders
(:func:`~nqsflow.vmc.driver.build_vmc`, :func:`~nqsflow.vmc.samplers.build_sampler`,
:func:`~nqsflow.vmc.optimizers.build_optimizer`,
:func:`~nqsflow.vmc.hamiltonians.build_hamiltonian`) pass their section through the
same functions and then read plain keys, so the resolved spec an artifact records
is what ran.  Defaults that follow from other values (a factor's ``cusp``, a hard
core's radius) stay implicit.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from nqsflow.vmc.guards import MAX_VARIANCE_RATIO

# the defaults that follow from no other key, by section
DEFAULTS: dict[str, dict[str, Any]] = {
    "system": {"elliptic": 1.0},
    "sampler": {"walkers": 500, "burn_in": 200, "thin": 4},
    "optimizer": {
        "steps": 100, "samples": 2000, "learning_rate": 0.05, "schedule": "constant",
        "clip_local_energy": 0.0, "max_variance_ratio": MAX_VARIANCE_RATIO,
    },
    "convergence": {"window": 20},
    "production": {"bins": 100},
}  # fmt: skip
# a sampler's step by kind: Metropolis in oscillator lengths, Langevin in oscillator times
STEP = {"metropolis": 1.0, "langevin": 0.2}
DIAG_SHIFT = 0.01  # stochastic reconfiguration's diagonal shift (sr only)


def final_learning_rate(learning_rate: float) -> float:
    """The default final rate of a decaying schedule: a tenth of the initial one."""
    return learning_rate / 10


def with_defaults(section: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``section`` (of run-spec section ``name``) with each constant default it lacks."""
    return {**section, **{k: v for k, v in DEFAULTS[name].items() if k not in section}}


def has_nodes(spins) -> bool:
    """Whether psi has nodes: fermions (``spins`` not None) with two or more of one spin."""
    return spins is not None and max(spins) > 1


def resolved_system(system: Mapping[str, Any]) -> dict[str, Any]:
    """A ``system`` section with ``elliptic`` and, for electrons, closed-shell ``spins``."""
    from nqsflow.vmc.hamiltonians import default_spins

    out = with_defaults(system, "system")
    if "spins" not in out:  # bosons, unless a Coulomb dot (an open shell is refused)
        spins = default_spins(out["particles"], out["dim"], out.get("interaction"))
        if spins is not None:
            out["spins"] = [int(n) for n in spins]
    return out


def resolved_sampler(sampler: Mapping[str, Any], spins) -> dict[str, Any]:
    """A ``sampler`` section with every default, for particles of ``spins`` (None: bosons).

    psi of many fermions has nodes: they sweep single-particle moves (rank-one
    determinant updates) and Langevin limits the drift near the nodes.
    """
    out = with_defaults(sampler, "sampler")
    nodes = has_nodes(spins)
    out.setdefault("block_size", out["walkers"])
    out.setdefault("moves", "single" if nodes else "all")
    if out["kind"] in STEP:  # build_sampler names an unknown kind
        out.setdefault("step", STEP[out["kind"]])
    if out["kind"] == "langevin":
        out.setdefault("drift_limit", 1.0 if nodes else 0.0)
    return out


def resolved_optimizer(optimizer: Mapping[str, Any]) -> dict[str, Any]:
    """An ``optimizer`` section with every default (and its ``convergence`` window)."""
    out = with_defaults(optimizer, "optimizer")
    out.setdefault("final_learning_rate", final_learning_rate(out["learning_rate"]))
    out.setdefault("decay_steps", max(out["steps"], 1))
    if out["kind"] == "sr":
        out.setdefault("diag_shift", DIAG_SHIFT)
    if "convergence" in out:
        out["convergence"] = with_defaults(out["convergence"], "convergence")
    return out


def resolved_factor(factor: Mapping[str, Any]) -> dict[str, Any]:
    """An ansatz factor with the defaults of its class's options that its schema accepts."""
    import jsonschema

    from nqsflow.vmc.wavefunctions import FACTORS

    out = dict(factor)
    cls = FACTORS[out["kind"]]
    signature = inspect.signature(cls.__init__).parameters
    for name, schema in cls.options.items():
        default = signature[name].default if name in signature else None
        if name in out or default is None or default is inspect.Parameter.empty:
            continue
        default = list(default) if isinstance(default, tuple) else default
        if jsonschema.Draft202012Validator(schema).is_valid(default):
            out[name] = default
    return out


def resolved_runspec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A validated run spec with every default filled in; idempotent.

    The result is itself a valid run spec, and running it gives the same numbers
    bit for bit (``tests/test_faults.py`` and ``tests/test_runspec.py`` check both).
    """
    out = copy.deepcopy(dict(spec))
    out["system"] = resolved_system(out["system"])
    out["ansatz"] = [resolved_factor(f) for f in out["ansatz"]]
    out["sampler"] = resolved_sampler(out["sampler"], out["system"].get("spins"))
    out["optimizer"] = resolved_optimizer(out["optimizer"])
    out["production"] = with_defaults(out["production"], "production")
    return out
