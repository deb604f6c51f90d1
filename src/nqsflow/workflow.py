"""Helpers of the Snakemake rules: paths and targets of a study, kept here to be tested.

Every output lives under ``results/{study}/``; the DAG follows from the config.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from nqsflow.config import study_points

REPORT_FILES = (
    "summary.md", "optimization.png", "energies.png", "weights.png", "calibration.png",
)  # fmt: skip


def study_dir(config: Mapping[str, Any]) -> str:
    """``results/{study}``."""
    return f"results/{config['study']}"


def reference_path(config) -> str:
    """The generate stage's artifact."""
    return f"{study_dir(config)}/data/reference.h5"


def vmc_path(config, ansatz: str, point: str, suffix: str = "h5") -> str:
    """One VMC artifact (or its run spec, with ``suffix="yaml"``)."""
    return f"{study_dir(config)}/vmc/{config['system']['name']}/{ansatz}/{point}.{suffix}"


def vmc_paths(config, ansatz: str) -> list[str]:
    """The VMC artifacts of one ansatz at every point of the study, sorted by omega."""
    return [vmc_path(config, ansatz, p.name) for p in study_points(config)]


def fit_path(config, ansatz: str, method: str) -> str:
    """One fit artifact."""
    return f"{study_dir(config)}/fit/{ansatz}/{method}.h5"


def fit_paths(config) -> list[str]:
    """Every (ansatz, method) fit of the study."""
    return [
        fit_path(config, ansatz, method)
        for ansatz in config["vmc"]["ansatze"]
        for method in config["fit"]["methods"]
    ]


def bma_path(config) -> str:
    """The BMA summary artifact."""
    return f"{study_dir(config)}/bma/summary.h5"


def report_paths(config) -> list[str]:
    """The report's files."""
    return [f"{study_dir(config)}/report/{name}" for name in REPORT_FILES]


def mpiexec_beside(python: str) -> str:
    """The ``mpiexec`` installed next to ``python`` (the mpich wheel's), else the one on PATH."""
    import shutil

    return shutil.which("mpiexec", path=str(Path(python).parent)) or "mpiexec"


def wildcard_pattern(values) -> str:
    """A regex matching exactly one of ``values`` (for wildcard_constraints)."""
    import re

    return "|".join(re.escape(v) for v in values)


def write_yaml(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write ``data`` as YAML atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(dict(data), fh, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
