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


def mpi_launcher(config, python: str, overridden: bool = False, path: str | None = None) -> str:
    """The launcher of a VMC job's ranks: the ``mpiexec`` next to ``python`` (the mpich
    wheel's), else ``mpiexec`` from ``path`` (default: PATH); ``""`` when there is none
    and a run has one rank (it then runs as one plain process).

    ``overridden``: the launcher is set with ``--set-resources vmc:mpi=...`` (the
    SLURM profile's ``srun``), so none need be here.  Raises :class:`SetupError` in
    one line when runs of several ranks have no launcher: before any job starts,
    rather than each job failing with the shell's "command not found".
    """
    import shutil

    from nqsflow.errors import SetupError

    beside = shutil.which("mpiexec", path=str(Path(python).parent))
    if beside:
        return beside
    if overridden or shutil.which("mpiexec", path=path):
        return "mpiexec"  # found by the job's PATH, or replaced by the override
    ranks = int(config.get("vmc", {}).get("tasks", 1))
    if ranks <= 1:
        return ""
    raise SetupError(
        f"no mpiexec to start the VMC runs' {ranks} ranks (key 'vmc.tasks'): none beside "
        f"{python} nor on PATH; install the mpich wheel ({python} -m pip install mpich), "
        "set vmc.tasks: 1, or name a launcher (--set-resources vmc:mpi='srun --mpi=pmi2')"
    )


def launcher_overridden(workflow) -> bool:
    """Whether ``--set-resources`` (on the command line or in a profile) sets the VMC
    rule's ``mpi`` resource, the launcher of its ranks."""
    settings = getattr(workflow, "resource_settings", None)
    overrides = getattr(settings, "overwrite_resources", None) or {}
    return "mpi" in (overrides.get("vmc") or {})


def vmc_command(python: str, launcher: str) -> str:
    """The VMC rule's shell command: its ranks started by the ``mpi`` resource (the
    launcher), or one plain process where there is no launcher."""
    start = "{resources.mpi} -n {resources.tasks} " if launcher else ""
    return f"{start}{python} -m nqsflow.vmc {{input}} --out {{output}} 2> {{log}}"


def wildcard_pattern(values) -> str:
    """A regex matching exactly one of ``values`` (for wildcard_constraints)."""
    import re

    return "|".join(re.escape(v) for v in values)


def write_yaml(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write ``data`` as YAML atomically (temporary file, then rename)."""
    from nqsflow.artifacts import remove_stale_temporaries, temporary_prefix

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(dict(data), fh, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path)


# --- logs, benchmarks, resources and the Snakemake report -------------------------------

# Slow ansatz families: a local energy costs several times a Slater-Jastrow one
# (README, "Speed on one core": the neural Jastrow 5x, the backflow 3.6x at N = 6).
SLOW_FACTORS = {"neural_jastrow": 5.0, "slater_backflow": 4.0}
# Seconds per sample and particle squared on one rank, optimisation steps included:
# the dots-many study (80 SR steps of 2000 samples, 1e5 production samples, 2 ranks
# of a shared 2-core machine) took 1.0e-6 (N = 12) to 1.5e-6 (N = 6) with
# Slater x Pade, 4.7 times that with the neural Jastrow; the 2-electron dot 3e-7.
SECONDS_PER_SAMPLE_N2 = 1.5e-6
SAFETY = 3.0  # wall time asked for over the estimate: shared nodes, slow file systems
MIN_RUNTIME = 10  # minutes: below this a batch job gains nothing in the queue
BASE_MEM_MB = 1000  # Python, numpy, h5py, matplotlib and MPI of one process


def log_path(config, name: str) -> str:
    """``logs/{study}/{name}.log``: a job's standard error."""
    return f"logs/{config['study']}/{name}.log"


def benchmark_path(config, name: str) -> str:
    """``results/{study}/benchmarks/{name}.tsv``: a job's wall time and memory as
    Snakemake measures them (``benchmark:``)."""
    return f"{study_dir(config)}/benchmarks/{name}.tsv"


def _minutes(seconds: float, attempt: int = 1) -> int:
    """A wall-time limit in whole minutes for a job estimated at ``seconds``; each retry
    (``attempt``) asks for that much again."""
    import math

    return max(MIN_RUNTIME, math.ceil(SAFETY * seconds / 60)) * max(1, int(attempt))


def vmc_resources(config, ansatz: str, point: str, attempt: int = 1) -> dict[str, int]:
    """``runtime`` (minutes), ``mem_mb`` (the job) and ``mem_mb_per_cpu`` (one rank) of
    one VMC run, from its run spec: the samples of every optimisation step and of the
    production over the ranks, times a cost per sample growing as N^2.

    SLURM reads ``mem_mb_per_cpu`` before ``mem_mb`` (one CPU per rank); Snakemake's
    local scheduler reads ``mem_mb``.  A retry after the wall-time limit (the run
    resumes from its checkpoint) gets ``attempt`` times the time.
    """
    import math

    from nqsflow.config import runspec_for
    from nqsflow.vmc.runspec import resolved_runspec

    spec = resolved_runspec(runspec_for(config, ansatz, point))  # the defaults the run takes
    ranks = int(config["vmc"].get("tasks", 1))
    n = int(spec["system"]["particles"])
    sampler, opt = spec["sampler"], spec["optimizer"]
    walkers = int(sampler["walkers"])
    samples = (
        int(opt["steps"]) * int(opt["samples"])
        + int(spec["production"]["samples"])
        + int(sampler["burn_in"]) * walkers * ranks
    )
    slow = max([SLOW_FACTORS.get(f["kind"], 1.0) for f in spec["ansatz"]], default=1.0)
    seconds = 30 + samples * SECONDS_PER_SAMPLE_N2 * n * n * slow / ranks
    # per rank: positions and intermediates of the walkers, the production's local
    # energies of this rank (8 bytes each, a few copies)
    per_rank = (BASE_MEM_MB
                + math.ceil(32 * spec["production"]["samples"] / ranks / 1e6)
                + math.ceil(walkers * n * n * 8 * 64 / 1e6))  # fmt: skip
    return {"runtime": _minutes(seconds, attempt), "mem_mb": per_rank * ranks,
            "mem_mb_per_cpu": per_rank}  # fmt: skip


def study_size(config) -> int:
    """The number of points of the study (an upper bound for a mass study: at most 75
    nuclei with a two-neutron separation energy per element of its Z range)."""
    from nqsflow.config import is_mass_study

    if is_mass_study(config):
        z = config["data"].get("Z", {})
        return 75 * (int(z.get("max", 118)) - int(z.get("min", 1)) + 1)
    return len(study_points(config))


def fit_resources(config, method: str, attempt: int = 1) -> dict[str, int]:
    """``runtime`` and ``mem_mb`` of one fit: a GP's hyper-parameter search costs
    (train points)^3 per evaluation, its predictions (points) x (train points) of
    memory; the linear methods are cheap."""
    import math

    spec = config["fit"]["methods"][method]
    n = study_size(config)
    seconds, mem = 30.0, BASE_MEM_MB
    if spec.get("kind") == "gp":
        m = min(n, int(spec.get("max_train") or n))
        seconds += (int(spec.get("restarts", 4)) + 1) * 60 * (m / 1000) ** 3
        mem += math.ceil(8 * (10 * m * m + 4 * n * m) / 1e6)
    return {"runtime": _minutes(seconds, attempt), "mem_mb": mem}


def stage_resources(config, stage: str, attempt: int = 1) -> dict[str, int]:
    """``runtime`` and ``mem_mb`` of a generate, theory, bma or report job: seconds to a
    few minutes, growing with the points of the study (the BMA with every model)."""
    import math

    from nqsflow.config import is_mass_study

    n = study_size(config)
    models = len(theory_names(config)) * len(config["fit"]["methods"])
    # the trap studies' exact energies: a radial eigen-solve per point
    solve = 0.01 if is_mass_study(config) else 0.5
    per_point = {"generate": solve, "theory": 0.01, "bma": 0.01 * models, "report": 0.01}
    if stage not in per_point:
        raise ValueError(f"no stage {stage!r}; use one of {sorted(per_point)}")
    mem = BASE_MEM_MB + math.ceil(8 * 16 * n * max(models, 1) / 1e6)
    return {"runtime": _minutes(60 + per_point[stage] * n, attempt), "mem_mb": mem}


# The Snakemake report (`snakemake --report`): each file of the study's report
# (nqsflow.report.report_files) with its category and its caption, a reST file
# under workflow/report/<kind>/.
REPORT_CATEGORIES = {
    "dots": {
        "summary.md": "1. Summary",
        "summary.html": "1. Summary",
        "energies.png": "2. Energies",
        "optimization.png": "3. VMC optimisation",
        "weights.png": "4. Model averaging",
        "calibration.png": "4. Model averaging",
    },
    "nuclear": {
        "summary.md": "1. Summary",
        "summary.html": "1. Summary",
        "residuals.png": "2. Mass residuals",
        "bound.png": "3. Drip line",
        "weights.png": "4. Model averaging",
    },
}


def report_kind(config) -> str:
    """``nuclear`` for a study of nuclear masses, else ``dots`` (trap studies)."""
    from nqsflow.config import is_mass_study

    return "nuclear" if is_mass_study(config) else "dots"


def report_items(config) -> list[tuple[str, dict[str, str]]]:
    """``(path, {"caption", "category"})`` for every file of :func:`report_paths`; the
    caption is relative to ``workflow/report``."""
    kind = report_kind(config)
    items = []
    for path in report_paths(config):
        name = Path(path).name
        items.append((path, {"caption": f"{kind}/{Path(name).stem}.rst",
                             "category": REPORT_CATEGORIES[kind][name]}))  # fmt: skip
    return items


def success_message(config) -> str:
    """What ``onsuccess`` prints: where the study's results, logs and benchmarks are,
    and how to make the one-file HTML report."""
    return "\n".join([
        f"nqsflow: study {config['study']!r} done.",
        f"  report:     {study_dir(config)}/report/ (summary.md and the figures)",
        f"  artifacts:  {study_dir(config)}/ (HDF5, one folder per stage)",
        f"  benchmarks: {study_dir(config)}/benchmarks/ (time and memory of every job)",
        f"  logs:       logs/{config['study']}/",
        "  one HTML file of the results: snakemake --report report.html"
        " (with the same --configfile)",
    ])  # fmt: skip


def failed_logs(snakemake_log) -> list[str]:
    """The logs of the failed jobs, as Snakemake's own log of the run (a path, or a list
    of paths as ``onerror`` gets it) names them."""
    import re

    paths = [snakemake_log] if isinstance(snakemake_log, (str, os.PathLike)) else snakemake_log
    text = "".join(Path(p).read_text(errors="replace") for p in paths or () if Path(p).is_file())
    found = re.findall(r"^\s*log: (.+?) \(check log file\(s\) for error details\)", text, re.M)
    return list(dict.fromkeys(path for line in found for path in line.split(", ")))


def error_message(config, snakemake_log=None) -> str:
    """What ``onerror`` prints: the logs of the failed jobs (from Snakemake's log of the
    run, ``snakemake_log``) and where every job's log is."""
    failed = failed_logs(snakemake_log)
    return "\n".join([
        f"nqsflow: study {config['study']!r} stopped on an error.",
        *(f"  failed job's log: {path}" for path in failed),
        f"  every job's standard error is under logs/{config['study']}/; finished artifacts"
        " are kept, and the same command continues from them.",
    ])  # fmt: skip
