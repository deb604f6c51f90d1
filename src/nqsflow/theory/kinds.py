"""The registry of theory kinds: each turns its config into predictions at the points.

A kind is one :class:`TheoryKind` subclass: ``kind`` names it in
``theories.<name>.kind``, ``options`` is the JSON schema of its keys (the study
schema is filled from here) and :meth:`TheoryKind.predict` gives the mean and
error ``(n,)`` at the reference's points (NaN where it has no prediction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.readers import Reference
from nqsflow.registry import Registered, kinds_schema

THEORIES: dict[str, type[TheoryKind]] = {}


class TheoryKind(Registered):
    """One producer of theory predictions; a subclass with a ``kind`` registers itself."""

    registry = THEORIES
    needs_vmc = False

    @classmethod
    def check(cls, name: str, spec: Mapping[str, Any]) -> None:
        """Raise :class:`ConfigError` naming the key, before any work, on what the schema
        of ``theories.<name>`` cannot judge."""

    @classmethod
    def predict(
        cls, name: str, spec: Mapping[str, Any], reference: Reference, vmc_paths: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(mean, error, attributes)`` at the reference's points."""
        raise NotImplementedError


def theory_schema() -> dict:
    """JSON schema of one ``theories`` entry, from the registry (VMC theories come from
    ``vmc.ansatze`` and are not listed there)."""
    return kinds_schema(cls for cls in THEORIES.values() if not cls.needs_vmc)


def theory_specs(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every theory of a study by name: one ``vmc`` theory per ansatz, then ``theories``."""
    specs: dict[str, dict[str, Any]] = {}
    for ansatz, factors in config.get("vmc", {}).get("ansatze", {}).items():
        specs[ansatz] = {"kind": "vmc", "ansatz": [dict(f) for f in factors]}
    for name, spec in config.get("theories", {}).items():
        if name in specs:
            raise ConfigError(f"key 'theories.{name}': the name is an ansatz under vmc.ansatze too")
        specs[name] = dict(spec)
    return specs


# the kinds register on import
from nqsflow.theory import masses as _masses  # noqa: E402, F401
from nqsflow.theory import vmc as _vmc  # noqa: E402, F401
