"""Feature expansions of the trap frequency for the linear residual models.

A feature spec is one of

- ``{"polynomial": n}`` (or a method's ``degree: n``): ``1, omega, ..., omega^n``;
- a list of terms, each ``"1"``, ``"omega"``, ``"omega^p"`` (any real ``p``:
  ``"omega^-1"``, ``"omega^0.5"``), ``"sqrt(omega)"``, ``"1/omega"`` or
  ``"log(omega)"`` -- physics terms such as the strong-trap ``omega`` and
  ``sqrt(omega)`` of the Coulomb energy or the weak-trap ``omega^(2/3)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError

_POWER = re.compile(r"^omega\^\(?(-?\d+(?:\.\d*)?(?:/\d+)?)\)?$")
_NAMED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "1": np.ones_like,
    "omega": lambda w: w,
    "sqrt(omega)": np.sqrt,
    "1/omega": lambda w: 1.0 / w,
    "log(omega)": np.log,
}


def feature_terms(spec: Mapping[str, Any] | Sequence[Any] | None, degree: int | None) -> list[str]:
    """The canonical term names of a feature spec (see the module docstring).

    ``degree`` is the legacy ``degree`` key of a method; give it or ``spec``,
    not both.  Raises :class:`ConfigError` on an unknown term or a repeated one.
    """
    if spec is not None and degree is not None:
        raise ConfigError("give a fit method 'degree' or 'features', not both")
    if spec is None:
        spec = {"polynomial": 3 if degree is None else degree}
    if isinstance(spec, Mapping):
        if set(spec) != {"polynomial"}:
            raise ConfigError(f"features mapping takes only 'polynomial', got {sorted(spec)}")
        n = spec["polynomial"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10:
            raise ConfigError(f"features.polynomial must be an integer 0..10, got {n!r}")
        return ["1", *(["omega"] if n >= 1 else []), *(f"omega^{k}" for k in range(2, n + 1))]
    terms = [_canonical(str(t).replace(" ", "")) for t in spec]
    if not terms:
        raise ConfigError("features: the list of terms is empty")
    if len(set(terms)) != len(terms):
        raise ConfigError(f"features: a term is repeated in {terms}")
    return terms


def _canonical(term: str) -> str:
    if term in _NAMED:
        return term
    match = _POWER.match(term)
    if match is None:
        raise ConfigError(
            f"feature term {term!r} is unknown; use 1, omega, omega^p, sqrt(omega), "
            "1/omega or log(omega)"
        )
    p = _power(match.group(1))
    named = {0.0: "1", 1.0: "omega", 0.5: "sqrt(omega)", -1.0: "1/omega"}
    return named.get(p, f"omega^{int(p)}" if p.is_integer() else f"omega^{p!r}")


def _power(text: str) -> float:
    if "/" in text:
        num, den = text.split("/")
        return float(num) / float(den)
    return float(text)


def design_matrix(omega, terms: Sequence[str]) -> np.ndarray:
    """The features ``terms`` evaluated at ``omega`` (shape ``(n,)``): shape ``(n, len(terms))``."""
    w = np.asarray(omega, dtype=float).ravel()
    if np.any(w <= 0):
        raise ValueError("feature expansions need omega > 0")
    columns = []
    for term in terms:
        if term in _NAMED:
            columns.append(_NAMED[term](w))
        else:
            columns.append(w ** _power(term.split("^", 1)[1]))
    return np.column_stack(columns)


def poly_features(x, degree: int) -> np.ndarray:
    """Design matrix ``[1, x, x^2, ..., x^degree]``, shape ``(n, degree + 1)``."""
    return np.vander(np.asarray(x, dtype=float), degree + 1, increasing=True)
