"""The whole DAG through `snakemake --executor slurm` on a REAL SLURM cluster.

Opt-in: `make test-slurm` brings up a one-node cluster on localhost
(../shared/slurm/up.sh), runs this with NQSFLOW_SLURM=1 and tears the cluster
down again. Plain `make test` skips it. The study uses the repository's
workflow/profiles/slurm unchanged, plus only the flags a cluster without
accounting and a quick test need.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import read_artifact

from ..conftest import REPO, tool

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.workflow,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("NQSFLOW_SLURM") != "1",
        reason="needs a SLURM cluster: run `make test-slurm` (sets NQSFLOW_SLURM=1)",
    ),
]

PROFILE = REPO / "workflow" / "profiles" / "slurm"
PARTITION = os.environ.get("SLURM_PARTITION", "debug")  # the one up.sh makes
TASKS = 2

# Five points (three train, one test, one target), one ansatz, two fit methods:
# 11 SLURM jobs (generate, 5 vmc on 2 ranks each, theory, 2 fit, bma, report).
STUDY = {
    "study": "slurm-tiny",
    "seed": 5,
    "system": {"name": "dot", "particles": 2, "dim": 2, "interaction": "coulomb"},
    "design": {"train": [0.5, 0.8, 1.0], "test": [0.6], "target": [0.9]},
    "data": {"noise": 0.0},
    "vmc": {
        "tasks": TASKS,
        "ansatze": {
            "gauss-pade": [{"kind": "gaussian"}, {"kind": "pade_jastrow", "beta": 0.4}],
        },
        "sampler": {"kind": "langevin", "walkers": 200, "step": 0.2, "burn_in": 50, "thin": 2},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": 40, "samples": 1000},
        "production": {"samples": 10000},
    },
    "fit": {"methods": {"gp": {"kind": "gp"}, "ridge": {"kind": "ridge", "degree": 1}}},
    "bma": {"weights": "predictive"},
}
POINTS = ["omega0.5", "omega0.6", "omega0.8", "omega0.9", "omega1"]
REMOTE_RULES = {"generate": 1, "vmc": len(POINTS), "theory": 1, "fit": 2, "bma": 1, "report": 1}

# "Job 8 has been submitted with SLURM jobid 2 (log: .../rule_vmc/gauss-pade_omega0.6/2.log)."
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _slurm_jobs(job_ids: list[str]) -> dict[str, dict[str, str]]:
    """What slurmctld still knows of these jobs (finished ones stay MinJobAge = 300 s)."""
    fields = {
        "id": "%i",
        "partition": "%P",
        "state": "%T",
        "cpus": "%C",
        "time_limit": "%l",
        "min_memory": "%m",
        "comment": "%k",
    }
    proc = subprocess.run(
        ["squeue", "--states=all", "-h", "-j", ",".join(job_ids), "-o", "|".join(fields.values())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in proc.stdout.splitlines()]
    return {row["id"]: row for row in rows}


def _snakemake_command(tmp_path: Path, study: dict, *targets: str):
    """The snakemake command line (repository profile + test-only flags) and its env."""
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(study))
    # the rules run Snakemake's own Python by its full path; PATH only needs SLURM's tools
    env = dict(os.environ)
    cmd = [
        tool("snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(config),
        "--profile",
        str(PROFILE),
        # test-only: no accounting here (sacct cannot see jobs), no account to charge,
        # first status check after 1 s instead of 40 s, keep the logs as evidence
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
        *targets,
    ]
    return cmd, env


def _check_cluster():
    for command in ("sbatch", "squeue", "srun", "scancel"):
        assert shutil.which(command), f"{command} not on PATH: run through `make test-slurm`"
    assert subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0, (
        "no SLURM controller answers: run through `make test-slurm`"
    )


def test_study_runs_through_slurm_with_two_mpi_ranks_per_vmc_job(tmp_path):
    _check_cluster()

    cmd, env = _snakemake_command(tmp_path, STUDY)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=420)
    elapsed = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    # also keeps every job visible to squeue below (MinJobAge is 300 s)
    assert elapsed < 240, f"took {elapsed:.0f} s"

    # every non-local rule went through sbatch, each with its own SLURM job and log
    submitted = {job_id: Path(log) for job_id, log in SUBMITTED.findall(output)}
    per_rule: dict[str, list[str]] = {}
    for job_id, log in submitted.items():
        rule = next(part for part in log.parts if part.startswith("rule_"))[len("rule_") :]
        per_rule.setdefault(rule, []).append(job_id)
        assert log.is_file(), log
        assert log.is_relative_to(tmp_path / ".snakemake" / "slurm_logs"), log
    assert {rule: len(ids) for rule, ids in per_rule.items()} == REMOTE_RULES

    # SLURM's own record: finished, in the partition, with the profile's limits; each
    # vmc job holds TASKS CPUs (--ntasks=TASKS, --cpus-per-task=1), the others one
    jobs = _slurm_jobs(list(submitted))
    assert set(jobs) == set(submitted)
    for rule, ids in per_rule.items():
        for job_id in ids:
            job = jobs[job_id]
            assert job["state"] == "COMPLETED", job
            assert job["partition"] == PARTITION, job
            assert job["comment"].startswith(f"rule_{rule}"), job
            # each job's own limits (nqsflow.workflow); every job here is small, at the floor
            assert job["time_limit"] == "10:00", job
            assert job["cpus"] == str(TASKS if rule == "vmc" else 1), job
            assert 1000 <= int(job["min_memory"].rstrip("M")) <= 1100, job  # per rank for vmc

    # inside each vmc job the ranks were started by srun with PMI-2, not by mpiexec
    for job_id in per_rule["vmc"]:
        log = submitted[job_id].read_text()
        launch = rf"srun --mpi=pmi2 -n {TASKS} \S*python\S* -m nqsflow.vmc"
        assert re.search(launch, log), log[-3000:]
        assert "mpiexec" not in log

    # the artifacts
    study = tmp_path / "results" / STUDY["study"]
    reference = read_artifact(study / "data" / "reference.h5", schema="nqsflow.data/1")
    assert list(reference["points"]["name"]) == POINTS
    exact = dict(zip(POINTS, reference["exact"]["energy"], strict=True))
    for point in POINTS:
        vmc = read_artifact(
            study / "vmc" / "dot" / "gauss-pade" / f"{point}.h5", schema="nqsflow.vmc/1"
        )
        assert vmc["@attrs"]["mpi_ranks"] == TASKS, point
        estimate = vmc["estimate"]["@attrs"]
        assert 0 < estimate["energy_error"] < 0.01, (point, estimate)
        # Gaussian x Pade-Jastrow with the cusp is nearly exact for two electrons
        assert abs(estimate["energy"] - exact[point]) < 0.02, (point, estimate, exact[point])
    for method in STUDY["fit"]["methods"]:
        read_artifact(study / "fit" / "gauss-pade" / f"{method}.h5", schema="nqsflow.fit/1")
    bma = read_artifact(study / "bma" / "summary.h5", schema="nqsflow.bma/1")
    weights = bma["models"]["weight"]
    assert weights.shape == (2,) and np.isclose(weights.sum(), 1.0)
    prediction = bma["prediction"]
    assert np.all(prediction["variance"] > 0)
    assert np.all(np.abs(prediction["mean"] - reference["exact"]["energy"]) < 0.02)
    for name in ("summary.md", "optimization.png", "energies.png", "weights.png"):
        assert (study / "report" / name).stat().st_size > 0, name


def test_signalled_vmc_job_checkpoints_and_its_retry_resumes(tmp_path):
    """SIGUSR1 (what --signal=USR1@120 sends before the limit) -> checkpoint -> retry resumes."""
    _check_cluster()
    study = {**STUDY, "study": "slurm-restart",
             "design": {"train": [0.5, 1.0], "test": [], "target": []}}
    study["vmc"] = {**STUDY["vmc"],
                    "sampler": {"kind": "langevin", "walkers": 100, "burn_in": 20, "thin": 1},
                    "optimizer": {"kind": "adam", "steps": 20000, "samples": 200}}
    target = "results/slurm-restart/vmc/dot/gauss-pade/omega1.h5"
    checkpoint = tmp_path / target.replace(".h5", ".checkpoint.h5")
    cmd, env = _snakemake_command(tmp_path, study, target)
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    deadline = time.time() + 180
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "the VMC job never checkpointed"
    running = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], capture_output=True,
                             text=True, timeout=30).stdout.split()
    assert len(running) == 1, running
    subprocess.run(["scancel", "--signal=USR1", running[0]], check=True, timeout=30)
    output, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, output[-5000:]

    vmc_jobs = [log for _, log in SUBMITTED.findall(output) if "rule_vmc" in log]
    assert len(vmc_jobs) == 2, output[-5000:]  # the signalled job and its retry
    # the signalled job stopped (status 75 after its checkpoint): SLURM saw it fail
    assert "non-zero exit code" in Path(vmc_jobs[0]).read_text()
    stage_log = tmp_path / "logs/slurm-restart/vmc/gauss-pade/omega1.log"
    assert "resuming from" in stage_log.read_text()
    vmc = read_artifact(tmp_path / target, schema="nqsflow.vmc/1")
    assert vmc["optimization"]["energy"].shape == (20000,)
    assert vmc["@attrs"]["mpi_ranks"] == TASKS
    assert not checkpoint.exists()
