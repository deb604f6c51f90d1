"""The theory stage: one theory's predictions at the reference's points -> ``nqsflow.theory/1``.

Artifact layout: ``/points/{name,x,role}`` (the reference's, attribute
``inputs``; ``/points/omega`` too for trap studies); ``/theory/mean`` and
``/theory/error`` ``(n,)`` (NaN where the theory has no prediction); ``/model``
attributes ``name``, ``kind`` and what the kind records (the liquid drop's fit,
the table's name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nqsflow.artifacts import ATTRS, provenance, write_artifact
from nqsflow.errors import ConfigError
from nqsflow.readers import read_reference
from nqsflow.theory.kinds import THEORIES, theory_specs

SCHEMA = "nqsflow.theory/1"


def stage_config(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The slice of a study config one theory depends on."""
    specs = theory_specs(config)
    if name not in specs:
        raise ConfigError(f"no theory named {name!r} (vmc.ansatze or theories)")
    return {"study": config["study"], "seed": config["seed"], "theory": {name: specs[name]}}


def run_theory(
    config: Mapping[str, Any],
    name: str,
    reference_path: str | os.PathLike,
    out_path: str | os.PathLike,
    vmc_paths: Sequence[str | os.PathLike] = (),
) -> Path:
    """Write theory ``name``'s predictions at the points of ``reference_path`` to ``out_path``.

    ``config`` is a study config or its theory slice (:func:`stage_config`).
    """
    part = config if "theory" in config else stage_config(config, name)
    if name not in part["theory"]:
        raise ConfigError(f"no theory named {name!r} in this config")
    spec = part["theory"][name]
    kind = THEORIES.get(spec.get("kind"))
    if kind is None:
        raise ConfigError(
            f"theory {name!r}: kind {spec.get('kind')!r} is not one of {list(THEORIES)}"
        )
    reference = read_reference(reference_path)
    mean, error, attrs = kind.predict(name, spec, reference, [str(p) for p in vmc_paths])
    tree = {
        "points": reference.points.tree(),
        "theory": {ATTRS: {"observable": reference.observable, "unit": reference.unit},
                   "mean": mean, "error": error},
        "model": {ATTRS: {"name": name, "kind": spec["kind"], **attrs}},
    }  # fmt: skip
    attrs = provenance(SCHEMA, part, seed=part["seed"], inputs=[reference_path, *vmc_paths])
    return write_artifact(out_path, tree, attrs)
