"""Nuclear mass tables of the ``masstable`` package: mass excesses, binding energies, S2n.

The package ships one text file per evaluation or model, ``masstable/data/<NAME>.txt``:
a header line ``Z N M`` and one nucleus per line, ``M`` the mass excess in MeV
(whitespace or tabs between columns; some files end their lines with CR only).
Only the files are used, through :mod:`importlib.resources`: the package's
``Table`` API calls a pandas option that pandas 3 removed.

Binding energy from mass excesses (all in MeV):
``B(Z, N) = Z * Delta_H + N * Delta_n - Delta(Z, N)``, and the two-neutron
separation energy ``S2n(Z, N) = B(Z, N) - B(Z, N - 2) = Delta(Z, N - 2) -
Delta(Z, N) + 2 * Delta_n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from nqsflow.errors import ConfigError

HYDROGEN_EXCESS = 7.288971064
"""Mass excess of the 1H atom in MeV (AME2016: 7288.971064(13) keV; Wang et al.,
Chin. Phys. C 41, 030003 (2017))."""
NEUTRON_EXCESS = 8.0713171
"""Mass excess of the neutron in MeV (AME2012: 8071.3171(5) keV; Wang et al.,
Chin. Phys. C 36, 1603 (2012))."""

EVALUATIONS = ("AME1995", "AME2003", "AME2012")
"""Atomic mass evaluations with measured masses only (the ``...all`` files add
values from systematics, marked ``#`` in the AME, and are not used)."""
MODELS = {
    "DUZU": "Duflo-Zuker mass formula",
    "FRDM95": "finite-range droplet model (Moeller et al., ADNDT 59, 185 (1995))",
    "HFB14": "Skyrme HFB-14 (Goriely et al., Phys. Rev. C 75, 064312 (2007))",
    "HFB26": "Skyrme HFB-26 (Goriely et al., Phys. Rev. C 88, 061302 (2013))",
    "KTUY05": "Koura-Tachibana-Uno-Yamada (Prog. Theor. Phys. 113, 305 (2005))",
    "ETFSI12": "extended Thomas-Fermi plus Strutinsky integral table (2012)",
    "SVM13": "SVM13 table (2013)",
    "WS32010": "Weizsaecker-Skyrme WS3 table (2010)",
    "WS32011": "Weizsaecker-Skyrme WS3 table (2011)",
    "TCSM12": "TCSM12 table (2012)",
    "TCSM13": "TCSM13 table (2013)",
    "BR2013": "BR2013 table (2013)",
    "MAJA88": "Masson-Jaenecke (ADNDT 39 (1988))",
}
"""Model tables the package ships (all but ``GK88``, whose file does not hold
mass excesses in the same convention)."""


@dataclass(frozen=True)
class MassTable:
    """One table: integer ``Z`` and ``N`` and mass excess ``excess`` (MeV), each ``(n,)``."""

    name: str
    Z: np.ndarray
    N: np.ndarray
    excess: np.ndarray

    def lookup(self) -> dict[tuple[int, int], float]:
        """``{(Z, N): mass excess}``."""
        keys = zip(self.Z.tolist(), self.N.tolist(), strict=True)
        return dict(zip(keys, self.excess.tolist(), strict=True))


def table_names() -> tuple[str, ...]:
    """Every table this module reads: the evaluations, then the models."""
    return (*EVALUATIONS, *MODELS)


@cache
def load_mass_table(name: str) -> MassTable:
    """The table ``name`` (:func:`table_names`) read from the ``masstable`` package's data."""
    if name not in table_names():
        raise ConfigError(f"mass table {name!r} is unknown; use one of {list(table_names())}")
    try:
        source = resources.files("masstable") / "data" / f"{name}.txt"
        raw = source.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            f"mass table {name!r}: cannot read the masstable package's data ({exc})"
        ) from None
    # Some files end lines with CR alone (classic Mac); splitlines() takes all three kinds.
    lines = raw.decode("ascii").splitlines()
    if lines[0].split() != ["Z", "N", "M"]:
        raise ConfigError(f"mass table {name!r}: unexpected header {lines[0]!r}")
    rows = np.array([line.split() for line in lines[1:] if line.strip()], dtype=float)
    Z, N = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
    order = np.lexsort((N, Z))
    return MassTable(name, Z[order], N[order], rows[order, 2])


def binding_energy(Z, N, excess) -> np.ndarray:
    """``B = Z Delta_H + N Delta_n - Delta`` (MeV), elementwise."""
    return np.asarray(Z) * HYDROGEN_EXCESS + np.asarray(N) * NEUTRON_EXCESS - np.asarray(excess)


def s2n_table(table: MassTable) -> dict[tuple[int, int], float]:
    """``{(Z, N): S2n}`` (MeV) for every nucleus of ``table`` whose ``(Z, N - 2)`` is there too."""
    mass = table.lookup()
    return {
        (z, n): mass[(z, n - 2)] - m + 2.0 * NEUTRON_EXCESS
        for (z, n), m in mass.items()
        if (z, n - 2) in mass
    }


def s2n_from_binding(binding: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """``{(Z, N): B(Z, N) - B(Z, N - 2)}`` from ``{(Z, N): B}``."""
    return {
        (z, n): b - binding[(z, n - 2)] for (z, n), b in binding.items() if (z, n - 2) in binding
    }
