"""The nuclear chart of a mass study: which nuclei are points, and their roles.

Neufcourt et al.'s time split (Phys. Rev. C 98, 034318 (2018)): nuclei whose S2n
the older evaluation (``data.train``, e.g. AME2003) knows are train points; those
new in the later one (``data.test``, e.g. AME2012) are held out, dealt at random
(seed ``data.seed`` or the study seed) into test points, which weigh the models,
and target points (fraction ``data.target_fraction``), which score them.  Every
other nucleus that at least ``data.min_models`` of the study's mass tables give
an S2n for is a ``predict`` point, not used to fit or score.  Observed points
must be covered by every table, so that every model is scored on the same
nuclei: a measured nucleus that a table lacks is a ``predict`` point that keeps
its observation (for the maps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nqsflow.data.masses import load_mass_table, s2n_table
from nqsflow.errors import ConfigError

INPUTS = ("Z", "N")


@dataclass(frozen=True)
class Chart:
    """Points of a mass study, sorted by (Z, N): ``Z``, ``N``, ``role`` and observed
    ``s2n`` (MeV, NaN where there is none), each ``(n,)``."""

    Z: np.ndarray
    N: np.ndarray
    role: np.ndarray
    s2n: np.ndarray
    set_aside: int  # measured nuclei that are predict points because a table lacks them

    @property
    def names(self) -> np.ndarray:
        return np.array([nucleus_name(z, n) for z, n in zip(self.Z, self.N, strict=True)])

    @property
    def x(self) -> np.ndarray:
        """Inputs ``(n, 2)``: Z and N as floats."""
        return np.column_stack([self.Z, self.N]).astype(float)


def nucleus_name(z: int, n: int) -> str:
    """A point label such as ``Z8N16``."""
    return f"Z{int(z)}N{int(n)}"


def table_theories(config: Mapping[str, Any]) -> list[str]:
    """The mass-table names of the study's ``mass_table`` theories, in config order."""
    return [
        spec.get("table", name)
        for name, spec in config.get("theories", {}).items()
        if spec["kind"] == "mass_table"
    ]


def nuclear_chart(config: Mapping[str, Any]) -> Chart:
    """The points and roles of a ``data.source: masses`` study (see the module docstring)."""
    data = config["data"]
    tables = table_theories(config)
    if not tables:
        raise ConfigError("key 'theories': a mass study needs at least one mass_table theory")
    z_lo, z_hi = int(data.get("Z", {}).get("min", 8)), int(data.get("Z", {}).get("max", 200))
    need = int(data.get("min_models", len(tables)))
    if not 1 <= need <= len(tables):
        raise ConfigError(f"key 'data.min_models': {need} is not in 1..{len(tables)} tables")
    counts: dict[tuple[int, int], int] = {}
    for name in tables:
        for key in s2n_table(load_mass_table(name)):
            counts[key] = counts.get(key, 0) + 1
    train = s2n_table(load_mass_table(data.get("train", "AME2003")))
    later = s2n_table(load_mass_table(data.get("test", "AME2012")))
    domain = sorted(k for k, c in counts.items() if c >= need and z_lo <= k[0] <= z_hi)
    everywhere = len(tables)
    rows, set_aside = [], 0
    for key in domain:
        if key in train or key in later:
            value = train[key] if key in train else later[key]
            role = "train" if key in train else "new"
            if counts[key] < everywhere:
                role, set_aside = "predict", set_aside + 1
        else:
            role, value = "predict", np.nan
        rows.append((key[0], key[1], role, value))
    Z = np.array([r[0] for r in rows], dtype=np.int64)
    N = np.array([r[1] for r in rows], dtype=np.int64)
    role = np.array([r[2] for r in rows], dtype=object)
    new = np.flatnonzero(role == "new")
    seed = int(data.get("seed", config["seed"]))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    n_target = int(round(float(data.get("target_fraction", 0.5)) * new.size))
    picked = rng.permutation(new)
    role[picked[:n_target]] = "target"
    role[picked[n_target:]] = "test"
    if np.sum(role == "train") < 2:
        raise ConfigError("key 'data.train': fewer than 2 train nuclei in the chart")
    return Chart(Z, N, role.astype(str), np.array([r[3] for r in rows], dtype=float), set_aside)
