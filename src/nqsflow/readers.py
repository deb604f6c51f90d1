"""One reader per artifact kind that the statistics stages exchange.

Each reader checks the schema (through :func:`~nqsflow.artifacts.read_artifact`)
and the datasets it needs, and returns plain arrays: points are named, carry
their inputs ``x`` (``(n, k)``, input names ``inputs``) and a role
(train / test / target / predict).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, read_artifact
from nqsflow.errors import ArtifactError


def dataset(tree: Mapping[str, Any], path, key: str) -> np.ndarray:
    """The dataset at ``key`` (``"group/name"``) of an artifact read from ``path``."""
    node: Any = tree
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ArtifactError(path, f"has no dataset /{key}")
        node = node[part]
    return np.asarray(node)


@dataclass(frozen=True)
class Points:
    """Names ``(n,)``, inputs ``x`` ``(n, k)`` named ``inputs``, roles ``(n,)``."""

    name: np.ndarray
    x: np.ndarray
    inputs: tuple[str, ...]
    role: np.ndarray

    def tree(self) -> dict[str, Any]:
        """The ``/points`` group of an artifact."""
        group = {ATTRS: {"inputs": list(self.inputs)}, "name": self.name, "x": self.x,
                 "role": self.role}  # fmt: skip
        if "omega" in self.inputs:
            group["omega"] = self.x[:, self.inputs.index("omega")]
        return group

    def same_as(self, other: Points) -> bool:
        return (
            self.name.shape == other.name.shape
            and bool(np.all(self.name == other.name))
            and self.x.shape == other.x.shape
            and np.allclose(self.x, other.x, rtol=1e-12, atol=0.0)
        )


def read_points(tree: Mapping[str, Any], path) -> Points:
    """The ``/points`` group; artifacts of one-input studies before ``x`` existed hold ``omega``."""
    group = tree.get("points")
    if not isinstance(group, Mapping):
        raise ArtifactError(path, "has no /points group")
    name = dataset(tree, path, "points/name").astype(str)
    role = dataset(tree, path, "points/role").astype(str)
    if "x" in group:
        x = dataset(tree, path, "points/x").astype(float).reshape(name.size, -1)
        stored = group.get(ATTRS, {}).get("inputs", "[]")
        # a list of strings is stored as JSON (nqsflow.artifacts)
        inputs = tuple(json.loads(stored) if isinstance(stored, str) else stored)
    else:
        x, inputs = dataset(tree, path, "points/omega").astype(float)[:, None], ("omega",)
    if len(inputs) != x.shape[1] or not (name.size == role.size == x.shape[0]):
        raise ArtifactError(path, "its /points datasets (name, x, role) do not agree in shape")
    return Points(name, x, inputs, role)


@dataclass(frozen=True)
class Reference:
    """The generate stage's artifact: points, exact values and observations ``(n,)``."""

    path: str
    points: Points
    exact: np.ndarray
    observed: np.ndarray
    observed_error: np.ndarray
    observable: str
    unit: str
    tree: Mapping[str, Any]


def read_reference(path: str | os.PathLike) -> Reference:
    """Read and check a ``nqsflow.data`` artifact."""
    tree = read_artifact(path, schema="nqsflow.data")
    attrs = tree.get("observations", {}).get(ATTRS, {})
    return Reference(
        str(path),
        read_points(tree, path),
        dataset(tree, path, "exact/energy").astype(float),
        dataset(tree, path, "observations/energy").astype(float),
        dataset(tree, path, "observations/energy_error").astype(float),
        str(attrs.get("observable", "energy")),
        str(attrs.get("unit", "hartree")),
        tree,
    )


@dataclass(frozen=True)
class Theory:
    """A theory artifact: one model's prediction ``mean`` and ``error`` ``(n,)`` at the points.

    NaN where the model has no prediction (a mass table that ends before the point).
    """

    path: str
    name: str
    kind: str
    points: Points
    mean: np.ndarray
    error: np.ndarray
    attrs: Mapping[str, Any]


def _model_and_points(tree, path) -> tuple[Mapping[str, Any], Points]:
    # a theory or fit artifact names its model in /model and lists the study's points
    model = tree.get("model", {}).get(ATTRS, {})
    if "name" not in model:
        raise ArtifactError(path, "has no /model group with a 'name' attribute")
    return model, read_points(tree, path)


def read_theory(path: str | os.PathLike) -> Theory:
    """Read and check a ``nqsflow.theory`` artifact."""
    tree = read_artifact(path, schema="nqsflow.theory")
    model, points = _model_and_points(tree, path)
    mean = dataset(tree, path, "theory/mean").astype(float)
    error = dataset(tree, path, "theory/error").astype(float)
    if not mean.shape == error.shape == points.name.shape:
        raise ArtifactError(path, "/theory/mean and /theory/error need one value per point")
    return Theory(str(path), str(model["name"]), str(model.get("kind", "")), points, mean,
                  error, model)  # fmt: skip


@dataclass(frozen=True)
class Fit:
    """A fit artifact: one (theory, method) model's corrected prediction ``(n,)`` at the points,
    its leave-one-out predictions (NaN where there are none) and its log evidence."""

    path: str
    name: str
    theory: str
    points: Points
    mean: np.ndarray
    variance: np.ndarray
    loo_mean: np.ndarray
    loo_variance: np.ndarray
    log_evidence: float
    hyper: Mapping[str, Any]


def read_fit(path: str | os.PathLike) -> Fit:
    """Read and check a ``nqsflow.fit`` artifact."""
    tree = read_artifact(path, schema="nqsflow.fit")
    model, points = _model_and_points(tree, path)
    missing = np.full(points.name.size, np.nan)
    loo = tree.get("loo", {})
    hyper = model.get("hyperparameters", "{}")
    return Fit(
        str(path),
        str(model["name"]),
        str(model.get("theory", model.get("ansatz", ""))),
        points,
        dataset(tree, path, "prediction/mean").astype(float),
        dataset(tree, path, "prediction/variance").astype(float),
        np.asarray(loo.get("mean", missing), dtype=float),
        np.asarray(loo.get("variance", missing), dtype=float),
        float(model.get("log_evidence", np.nan)),
        json.loads(hyper) if isinstance(hyper, str) else dict(hyper),
    )
