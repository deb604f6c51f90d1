"""Nuclear mass models as theories of S2n: tabulated models and a fitted liquid drop."""

from __future__ import annotations

import numpy as np

from nqsflow.data.masses import (
    EVALUATIONS,
    MODELS,
    binding_energy,
    load_mass_table,
    s2n_table,
)
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.theory.kinds import TheoryKind

BETHE_WEIZSAECKER = ["A", "A^(2/3)", "Z*(Z-1)/A^(1/3)", "(N-Z)^2/A", "((-1)^Z+(-1)^N)/2/sqrt(A)"]
"""Volume, surface, Coulomb, symmetry and pairing terms of the liquid-drop binding energy."""


def _chart_points(reference) -> tuple[np.ndarray, np.ndarray]:
    points = reference.points
    if points.inputs != ("Z", "N"):
        raise ArtifactError(reference.path, f"mass models need (Z, N) points, not {points.inputs}")
    return points.x[:, 0].astype(np.int64), points.x[:, 1].astype(np.int64)


class MassTable(TheoryKind):
    """S2n of a tabulated mass model of the ``masstable`` package (NaN where it has none)."""

    kind = "mass_table"
    options = {"table": {"enum": list(MODELS), "description": "table name (default: the theory's)"}}

    @classmethod
    def check(cls, name, spec):
        table = spec.get("table", name)
        if table not in MODELS:
            raise ConfigError(
                f"key 'theories.{name}': no mass table {table!r}; name one of {list(MODELS)} "
                "(key 'table')"
            )

    @classmethod
    def predict(cls, name, spec, reference, vmc_paths):
        table = spec.get("table", name)
        if table not in MODELS:
            raise ConfigError(
                f"key 'theories.{name}.table': {table!r} is not one of {list(MODELS)}"
            )
        Z, N = _chart_points(reference)
        s2n = s2n_table(load_mass_table(table))
        mean = np.array(
            [s2n.get((z, n), np.nan) for z, n in zip(Z.tolist(), N.tolist(), strict=True)]
        )
        attrs = {
            "table": table,
            "description": MODELS[table],
            "covered": int(np.sum(~np.isnan(mean))),
        }
        return mean, np.zeros(mean.size), attrs


class LiquidDrop(TheoryKind):
    """A Bethe-Weizsaecker mass formula fitted to an evaluation's binding energies.

    The fit is one of the project's linear methods (``method``: ``ols``, ``ridge``
    or ``lasso`` with their keys) on the ``features`` (default
    :data:`BETHE_WEIZSAECKER`) of the nuclei with ``Z >= min_Z`` in ``train``;
    S2n is the difference of the formula's binding energies.
    """

    kind = "liquid_drop"
    options = {
        "method": {
            "type": "object",
            "description": "a linear fit method: kind ols, ridge or lasso",
        },
        "features": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "train": {"enum": list(EVALUATIONS)},
        "min_Z": {"type": "integer", "minimum": 1},
    }

    @classmethod
    def check(cls, name, spec):
        from nqsflow.fit.models import resolve_method

        where = f"theories.{name}.method"
        method = _method(spec, where)  # refuses a kind the liquid drop does not take
        try:
            resolve_method(method, ("Z", "N"))
        except ConfigError as exc:
            message = str(exc)
            if message.startswith("features: "):  # the theory's own key, not the method's
                where, message = f"theories.{name}.features", message.removeprefix("features: ")
            raise ConfigError(f"key '{where}': {message}") from None

    @classmethod
    def predict(cls, name, spec, reference, vmc_paths):
        Z, N = _chart_points(reference)
        at = np.column_stack([np.r_[Z, Z], np.r_[N, N - 2]]).astype(float)
        binding, fit = fit_liquid_drop(spec, at)
        return binding[: Z.size] - binding[Z.size :], np.zeros(Z.size), {"fit": fit}


def _method(spec, where: str = "method") -> dict:
    """The fit method of a liquid drop ``spec`` (at the key ``where``), with its features;
    :class:`ConfigError` for a method other than ols, ridge or lasso."""
    method = dict(spec.get("method", {"kind": "ols"}))
    if method.get("kind") not in ("ols", "ridge", "lasso"):
        raise ConfigError(f"key '{where}.kind': the liquid drop takes ols, ridge or lasso, "
                          f"not {method.get('kind')!r}")  # fmt: skip
    method["features"] = list(spec.get("features", BETHE_WEIZSAECKER))
    return method


def fit_liquid_drop(spec, at) -> tuple[np.ndarray, dict]:
    """Fit the liquid drop of ``spec`` (see :class:`LiquidDrop`): binding energies (MeV) at
    the nuclei ``at`` ``(n, 2)`` (Z, N) and a summary (method, weights, rms on the fit)."""
    from nqsflow.fit.models import fit_residuals

    method = _method(spec)
    table = load_mass_table(spec.get("train", "AME2003"))
    keep = table.Z >= int(spec.get("min_Z", 8))
    Z, N = table.Z[keep], table.N[keep]
    x = np.column_stack([Z, N]).astype(float)
    binding = binding_energy(Z, N, table.excess[keep])
    rows = np.vstack([x, np.asarray(at, dtype=float)])
    result = fit_residuals(method, x, binding, np.zeros(Z.size), rows, inputs=("Z", "N"))
    fitted = result.mean[: Z.size]
    summary = {
        "method": method,
        "nuclei": int(Z.size),
        "rms_binding": float(np.sqrt(np.mean((fitted - binding) ** 2))),
        "hyper": result.hyper,
    }
    return result.mean[Z.size :], summary
