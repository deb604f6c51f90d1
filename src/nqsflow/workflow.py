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

STAGES = ("generate", "theory", "fit", "bma", "report")


def study_dir(config: Mapping[str, Any]) -> str:
    """``results/{study}``."""
    return f"results/{config['study']}"


def reference_path(config) -> str:
    """The generate stage's artifact."""
    return f"{study_dir(config)}/data/reference.h5"


def ansatze(config) -> list[str]:
    """The VMC ansatz names of the study (none for a study without VMC)."""
    return list(config.get("vmc", {}).get("ansatze", {}))


def theory_names(config) -> list[str]:
    """Every theory of the study: the ansatze, then ``theories``."""
    from nqsflow.theory.kinds import theory_specs

    return list(theory_specs(config))


def vmc_path(config, ansatz: str, point: str, suffix: str = "h5") -> str:
    """One VMC artifact (or its run spec, with ``suffix="yaml"``)."""
    return f"{study_dir(config)}/vmc/{config['system']['name']}/{ansatz}/{point}.{suffix}"


def vmc_paths(config, ansatz: str) -> list[str]:
    """The VMC artifacts of one ansatz at every point of the study (none if ``ansatz`` is
    not a VMC theory), sorted by omega."""
    if ansatz not in ansatze(config):
        return []
    return [vmc_path(config, ansatz, p.name) for p in study_points(config)]


def theory_path(config, theory: str) -> str:
    """One theory artifact."""
    return f"{study_dir(config)}/theory/{theory}.h5"


def theory_paths(config) -> list[str]:
    """Every theory artifact of the study."""
    return [theory_path(config, t) for t in theory_names(config)]


def fit_path(config, theory: str, method: str) -> str:
    """One fit artifact."""
    return f"{study_dir(config)}/fit/{theory}/{method}.h5"


def fit_paths(config) -> list[str]:
    """Every (theory, method) fit of the study."""
    return [
        fit_path(config, theory, method)
        for theory in theory_names(config)
        for method in config["fit"]["methods"]
    ]


def bma_path(config) -> str:
    """The BMA summary artifact."""
    return f"{study_dir(config)}/bma/summary.h5"


def report_paths(config) -> list[str]:
    """The report's files (which depend on what the study holds)."""
    from nqsflow.report import report_files

    return [f"{study_dir(config)}/report/{name}" for name in report_files(config)]


def slice_names(config) -> list[str]:
    """The config slices of the study: ``generate``, ``theory/<t>``, ``fit/<m>``, ``bma``,
    ``report``."""
    return [
        "generate",
        *(f"theory/{t}" for t in theory_names(config)),
        *(f"fit/{m}" for m in config["fit"]["methods"]),
        "bma",
        "report",
    ]


def slice_path(config, part: str) -> str:
    """Where the slice ``part`` (:func:`slice_names`) of the config is written."""
    return f"{study_dir(config)}/config/{part}.yaml"


def stage_slice(config, part: str) -> dict[str, Any]:
    """The part of the study config a stage's job depends on.

    A job takes its slice as its config file, and Snakemake rewrites a slice
    only when its content changes: a change reruns only the jobs that read it
    (and what depends on their outputs).  The report reads the whole study.
    """
    stage, _, name = part.partition("/")
    if stage == "generate":
        from nqsflow.data.generate import stage_config

        return stage_config(config)
    if stage == "theory":
        from nqsflow.theory.stage import stage_config

        return stage_config(config, name)
    if stage == "fit":
        from nqsflow.fit.stage import stage_config

        return stage_config(config, name)
    if stage == "bma":
        from nqsflow.bma.stage import stage_config

        return stage_config(config)
    if stage == "report":
        return dict(config)
    raise ValueError(f"no config slice {part!r}; use one of {slice_names(config)}")


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
