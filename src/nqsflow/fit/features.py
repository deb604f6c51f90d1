"""Feature expansions of a point's inputs for the linear models.

A feature spec is one of

- ``{"polynomial": n}`` (or a method's ``degree: n``): ``1, omega, ..., omega^n``
  (one-input studies);
- a list of terms, each ``"1"``, ``"omega"``, ``"omega^p"`` (any real ``p``:
  ``"omega^-1"``, ``"omega^0.5"``), ``"sqrt(omega)"``, ``"1/omega"`` or
  ``"log(omega)"`` -- physics terms such as the strong-trap ``omega`` and
  ``sqrt(omega)`` of the Coulomb energy or the weak-trap ``omega^(2/3)``;
- for inputs other than omega, a term is an arithmetic expression in the input
  names (``+ - * / ^``, numbers, ``sqrt``, ``log``, ``exp``, ``abs``): with
  inputs ``(Z, N)`` the name ``A`` is ``Z + N`` too, so the Bethe-Weizsaecker
  terms read ``A``, ``A^(2/3)``, ``Z*(Z-1)/A^(1/3)``, ``(N-Z)^2/A`` and
  ``((-1)^Z + (-1)^N)/2/sqrt(A)`` (pairing).
"""

from __future__ import annotations

import ast
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


_FUNCTIONS = {"sqrt": np.sqrt, "log": np.log, "exp": np.exp, "abs": np.abs}
_OPERATORS = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.USub: np.negative, ast.UAdd: np.positive,
}  # fmt: skip
OMEGA = ("omega",)


def feature_terms(
    spec: Mapping[str, Any] | Sequence[Any] | None,
    degree: int | None,
    inputs: Sequence[str] = OMEGA,
) -> list[str]:
    """The canonical term names of a feature spec (see the module docstring).

    ``degree`` is the legacy ``degree`` key of a method; give it or ``spec``,
    not both.  Raises :class:`ConfigError` on an unknown term or a repeated one.
    """
    if tuple(inputs) != OMEGA:
        return _expression_terms(spec, degree, inputs)
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


def _expression_terms(spec, degree, inputs) -> list[str]:
    if degree is not None or not isinstance(spec, Sequence) or isinstance(spec, str):
        raise ConfigError(
            f"features: with inputs {list(inputs)} give a list of expressions "
            "(no 'degree' or 'polynomial')"
        )
    terms = [str(t).replace(" ", "") for t in spec]
    if not terms:
        raise ConfigError("features: the list of terms is empty")
    if len(set(terms)) != len(terms):
        raise ConfigError(f"features: a term is repeated in {terms}")
    names = set(_namespace(np.ones((1, len(inputs))), inputs))
    for term in terms:
        _check_expression(_parse(term), names, term)
    return terms


def _parse(term: str) -> ast.AST:
    try:
        return ast.parse(term.replace("^", "**"), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"features: term {term!r} is not an arithmetic expression") from None


def _check_expression(node: ast.AST, names: set[str], term: str) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in names and sub.id not in _FUNCTIONS:
            raise ConfigError(
                f"features: term {term!r}: {sub.id!r} is unknown; use {sorted(names)}"
            )
        if isinstance(sub, ast.Call) and not (
            isinstance(sub.func, ast.Name) and sub.func.id in _FUNCTIONS and len(sub.args) == 1
        ):
            raise ConfigError(
                f"features: term {term!r}: functions are one-argument {sorted(_FUNCTIONS)}"
            )
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load,
                   ast.Constant, *_OPERATORS)  # fmt: skip
        if not isinstance(sub, allowed) or (
            isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float))
        ):
            raise ConfigError(f"features: term {term!r}: {type(sub).__name__} is not allowed")


def _namespace(x: np.ndarray, inputs: Sequence[str]) -> dict[str, np.ndarray]:
    space = {name: x[:, j] for j, name in enumerate(inputs)}
    if {"Z", "N"} <= space.keys() and "A" not in space:
        space["A"] = space["Z"] + space["N"]
    return space


def _evaluate(node: ast.AST, space: Mapping[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.Constant):
        return np.asarray(float(node.value))
    if isinstance(node, ast.Name):
        return space[node.id]
    if isinstance(node, ast.UnaryOp):
        return _OPERATORS[type(node.op)](_evaluate(node.operand, space))
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, space), _evaluate(node.right, space)
        return _OPERATORS[type(node.op)](left, right)
    return _FUNCTIONS[node.func.id](_evaluate(node.args[0], space))


def _canonical(term: str) -> str:
    if term in _NAMED:
        return term
    match = _POWER.match(term)
    if match is None:
        raise ConfigError(
            f"features: term {term!r} is unknown; use 1, omega, omega^p, sqrt(omega), "
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


def design_matrix(x, terms: Sequence[str], inputs: Sequence[str] = OMEGA) -> np.ndarray:
    """The features ``terms`` at the points ``x``: shape ``(n, len(terms))``.

    ``x`` has shape ``(n, k)`` for the ``k`` named ``inputs`` (or ``(n,)`` for omega).
    """
    if tuple(inputs) != OMEGA:
        x = np.asarray(x, dtype=float).reshape(-1, len(inputs))
        space = _namespace(x, inputs)
        columns = [
            np.broadcast_to(_evaluate(_parse(t), space), (x.shape[0],)).astype(float) for t in terms
        ]
        return np.column_stack(columns)
    w = np.asarray(x, dtype=float).ravel()
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
