"""The design of a study: which trap frequencies are train, test and target points.

Two forms of the ``design`` section:

- explicit lists ``{train: [...], test: [...], target: [...]}``;
- a seeded rule ``{omegas: ..., split: {train: f, test: f, target: f}, seed: s}``:
  the candidate frequencies (a list, or ``{min, max, points, spacing}`` with
  ``spacing`` ``linear`` or ``log``, rounded to 6 significant digits) are dealt
  out at random in the given fractions.  With ``keep_ends_train`` (default true)
  the smallest and the largest frequency are train points, so that every test
  and target point is an interpolation.  ``seed`` defaults to the study seed.

With ``data.source: table`` the candidates are the table's frequencies for the
study's system (``omegas`` may pick some of them), and explicit lists must name
table frequencies.  A study whose ``system.particles`` is a list pairs every
particle number with every frequency (:func:`nqsflow.config.study_points`);
with a table, each pair must be tabulated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError

ROLES = ("train", "test", "target")
_RULE_KEYS = ("omegas", "split", "seed", "keep_ends_train")
# a grid of more frequencies is a typo: as many VMC jobs per ansatz, and its array alone
# would not fit in memory at 1e12
MAX_POINTS = 10_000


def resolve_design(config: Mapping[str, Any]) -> dict[str, list[float]]:
    """``{role: sorted omegas}`` of a schema-valid study config.

    Raises :class:`ConfigError` naming the ``design`` key when a frequency has
    two roles, two frequencies share a point name, a frequency is not in the
    table of a ``table`` study, or the rule leaves fewer than 2 train points.
    """
    design = config["design"]
    explicit = [r for r in ROLES if r in design]
    rule = [k for k in _RULE_KEYS if k in design]
    if explicit and rule:
        raise ConfigError(
            f"key 'design': give either the lists {list(ROLES)} or a rule "
            f"(omegas, split), not both ({explicit + rule})"
        )
    table = _table_omegas(config)
    if explicit:
        missing = [r for r in ROLES if r not in design]
        if missing:
            raise ConfigError(f"key 'design': explicit lists need {missing} as well")
        roles = {r: [_on_table(float(w), table, r) for w in design[r]] for r in ROLES}
    elif "split" in design:
        roles = _split(config, _candidates(design, table))
    else:
        raise ConfigError("key 'design': give the lists train/test/target or a split rule")
    _check_roles(roles)
    return {r: sorted(ws) for r, ws in roles.items()}


def _table_omegas(config) -> list[float] | None:
    """The table's frequencies for the system: for a list of particle numbers, those
    tabulated for every one of them."""
    if config.get("data", {}).get("source", "exact") != "table":
        return None
    from nqsflow.config import study_particles
    from nqsflow.data.table import table_rows

    numbers = study_particles(config) or [None]
    per_number = [[row.omega for row in table_rows(config, n)] for n in numbers]
    return [w for w in per_number[0] if all(_tabulated(w, ws) is not None for ws in per_number[1:])]


def _tabulated(omega: float, table: list[float]) -> float | None:
    """The table's frequency that ``omega`` names (to 1e-9 relative), else None."""
    return next((w for w in table if math.isclose(omega, w, rel_tol=1e-9)), None)


def _on_table(omega: float, table: list[float] | None, key: str) -> float:
    """``omega`` itself, or the table's frequency it names."""
    if table is None:
        return omega
    found = _tabulated(omega, table)
    if found is not None:
        return found
    raise ConfigError(
        f"key 'design.{key}': omega={omega:g} is not a frequency of the table for every "
        "particle number of the study "
        f"(it has {', '.join(f'{w:g}' for w in table)})"
    )


def _candidates(design, table: list[float] | None) -> list[float]:
    spec = design.get("omegas")
    if spec is None:
        if table is None:
            raise ConfigError("key 'design.omegas': a split rule needs the candidate omegas")
        return list(table)
    if isinstance(spec, Mapping):
        lo, hi, n = float(spec["min"]), float(spec["max"]), int(spec["points"])
        if not 0 < lo < hi:
            raise ConfigError(f"key 'design.omegas': need 0 < min < max, got {lo:g}, {hi:g}")
        if n > MAX_POINTS:
            raise ConfigError(
                f"key 'design.omegas.points': {n} is more than {MAX_POINTS} points (each a "
                "job per theory)"
            )
        spacing = np.geomspace if spec.get("spacing", "linear") == "log" else np.linspace
        grid = spacing(lo, hi, n)
        values = [float(f"{w:.6g}") for w in grid]
    else:
        values = [float(w) for w in spec]
    return [_on_table(w, table, "omegas") for w in values]


def _split(config, omegas: list[float]) -> dict[str, list[float]]:
    design = config["design"]
    fractions = design["split"]
    total = sum(float(fractions.get(r, 0.0)) for r in ROLES)
    if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-9):
        raise ConfigError(f"key 'design.split': fractions must sum to 1, not {total:g}")
    omegas = sorted(set(omegas))
    n = len(omegas)
    # Largest-remainder rounding: the counts sum to n and follow the fractions.
    exact = {r: float(fractions.get(r, 0.0)) * n for r in ROLES}
    counts = {r: int(math.floor(x)) for r, x in exact.items()}
    for r in sorted(ROLES, key=lambda r: counts[r] - exact[r])[: n - sum(counts.values())]:
        counts[r] += 1
    if counts["train"] < 2:
        raise ConfigError(
            f"key 'design.split': {n} omegas give {counts['train']} train point(s); at least 2"
        )
    seed = int(design.get("seed", config["seed"]))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    ends = design.get("keep_ends_train", True)
    fixed = [omegas[0], omegas[-1]] if ends else []
    rest = [w for w in omegas if w not in fixed]
    order = [rest[i] for i in rng.permutation(len(rest))]
    n_train = counts["train"] - len(fixed)
    roles = {"train": fixed + order[:n_train]}
    roles["test"] = order[n_train : n_train + counts["test"]]
    roles["target"] = order[n_train + counts["test"] :]
    return roles


def _check_roles(roles: dict[str, list[float]]) -> None:
    from nqsflow.config import point_name

    seen: dict[float, str] = {}
    names: dict[str, float] = {}
    for role in ROLES:
        for omega in roles[role]:
            if omega in seen:
                raise ConfigError(
                    f"key 'design.{role}': omega={omega:g} is already a "
                    f"{seen[omega]} point; each point has one role"
                )
            seen[omega] = role
            name = point_name(omega)
            if name in names:
                raise ConfigError(
                    f"key 'design.{role}': omega={omega!r} and {names[name]!r} share the "
                    f"point name {name}; use values that differ in 6 significant digits"
                )
            names[name] = omega
    if len(roles["train"]) < 2:
        raise ConfigError("key 'design.train': at least 2 train points are needed")
