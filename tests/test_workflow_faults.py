"""Faults around a Snakemake run: no MPI launcher, and a job killed in its write.

- A study whose VMC runs need several ranks, on a Python with no ``mpiexec``
  beside it and none on PATH, is refused in one line before any job starts; with
  one rank the run goes on as one plain process.
- ``kill -9`` of a job in the middle of its artifact's write (the fault of
  tests/test_write_faults.py, put into the jobs by a ``sitecustomize``): the run
  fails, nothing lies under the final name, and the same command completes the
  study from the finished artifacts; the killed write's hidden temporary is
  removed by the next write of that artifact.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nqsflow import workflow as wf
from nqsflow.artifacts import read_artifact, remove_stale_temporaries, sha256, write_artifact
from nqsflow.errors import SetupError
from nqsflow.report import report_files

from .conftest import REPO
from .test_workflow import TINY
from .test_write_faults import _FAULTS

pytestmark = pytest.mark.workflow

# A study of 4 points, one ansatz and one fit: every stage in about 30 s on 2 cores.
MICRO = {
    "study": "micro",
    "seed": 3,
    "system": {"name": "dot", "particles": 2, "dim": 2, "interaction": "coulomb"},
    "design": {"train": [0.5, 1.0], "test": [0.8], "target": [0.6]},
    "data": {"noise": 0.0},
    "vmc": {
        "tasks": 1,
        "ansatze": {"gauss-pade": [{"kind": "gaussian"}, {"kind": "pade_jastrow", "beta": 0.4}]},
        "sampler": {"kind": "metropolis", "walkers": 20, "burn_in": 5, "thin": 1},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": 3, "samples": 100},
        "production": {"samples": 400},
    },
    "fit": {"methods": {"ridge": {"kind": "ridge", "degree": 1}}},
    "bma": {"weights": "predictive"},
}
# a PATH without the venv: no mpiexec on it on these machines
BARE_PATH = "/usr/bin:/bin"


def _run(python, workdir: Path, config: dict, *args: str, env: dict | None = None):
    """``python -m snakemake`` on the study ``config`` in ``workdir``."""
    path = workdir / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [str(python), "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(workdir), "--configfile", str(path), "--cores", "2", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


# --- no mpiexec ---------------------------------------------------------------------------


def _with_tasks(config, tasks):
    return {**config, "vmc": {**config["vmc"], "tasks": tasks}}


def test_the_launcher_is_found_beside_python_or_on_path_or_refused(tmp_path):
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    empty = str(tmp_path / "env" / "bin")  # a PATH with no mpiexec
    with pytest.raises(SetupError) as info:
        wf.mpi_launcher(_with_tasks(TINY, 2), str(python), path=empty)
    message = str(info.value)
    assert "\n" not in message and "no mpiexec" in message and "key 'vmc.tasks'" in message
    assert f"{python} -m pip install mpich" in message and "vmc:mpi=" in message
    # one rank runs as a plain process; a launcher set with --set-resources is trusted
    assert wf.mpi_launcher(_with_tasks(TINY, 1), str(python), path=empty) == ""
    assert wf.mpi_launcher(_with_tasks(TINY, 2), str(python), True, path=empty) == "mpiexec"
    # the mpiexec on PATH is run by name; the one beside the Python (the wheel's) by its path
    onpath = tmp_path / "path"
    onpath.mkdir()
    for folder in (onpath, python.parent):
        launcher = folder / "mpiexec"
        launcher.write_text("#!/bin/sh\n")
        launcher.chmod(0o755)
    assert wf.mpi_launcher(_with_tasks(TINY, 2), str(tmp_path / "python"), path=str(onpath)) == (
        "mpiexec"
    )
    assert wf.mpi_launcher(_with_tasks(TINY, 2), str(python), path=empty) == str(launcher)
    assert wf.vmc_command("py", "").startswith("py -m nqsflow.vmc {input}")
    assert wf.vmc_command("py", "x").startswith("{resources.mpi} -n {resources.tasks} py -m")


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """This venv's Python with nothing beside it: a venv whose ``bin/`` holds only the
    interpreter and whose ``lib/`` is this one's (same packages, no mpiexec)."""
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):
        pytest.skip("the tests run outside a venv")
    if shutil.which("mpiexec", path=BARE_PATH):
        pytest.skip(f"this machine has an mpiexec on {BARE_PATH}")
    root = tmp_path_factory.mktemp("bare") / "venv"
    (root / "bin").mkdir(parents=True)
    shutil.copy(venv / "pyvenv.cfg", root)
    (root / "lib").symlink_to(venv / "lib")
    (root / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    return root / "bin" / "python"


def test_ranks_without_mpiexec_are_refused_in_one_line_before_any_job(tmp_path, bare_python):
    env = dict(os.environ, PATH=BARE_PATH)
    for args in [("-n",), ()]:  # a dry run, and a run
        proc = _run(bare_python, tmp_path, _with_tasks(TINY, 2), *args, env=env)
        assert proc.returncode == 1, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, lines
        assert lines[0].startswith("nqsflow: no mpiexec to start the VMC runs' 2 ranks")
        assert "pip install mpich" in lines[0] and "vmc.tasks: 1" in lines[0]
        assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
    # a launcher named for the rule (the SLURM profile's) needs none here
    proc = _run(bare_python, tmp_path, _with_tasks(TINY, 2), "-n", "-p", "--set-resources",
                "vmc:mpi='srun --mpi=pmi2'", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"srun --mpi=pmi2 -n 2 {bare_python} -m nqsflow.vmc" in proc.stdout


@pytest.mark.slow
def test_one_rank_without_mpiexec_runs_as_one_process(tmp_path, bare_python):
    target = "results/micro/vmc/dot/gauss-pade/omega1.h5"
    proc = _run(bare_python, tmp_path, MICRO, "-p", target, env=dict(os.environ, PATH=BARE_PATH))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"Shell command: {bare_python} -m nqsflow.vmc" in proc.stdout + proc.stderr
    tree = read_artifact(tmp_path / target, schema="nqsflow.vmc")
    assert tree["@attrs"]["mpi_ranks"] == 1


# --- kill -9 in the middle of a write -----------------------------------------------------

# In every Python the run starts, the fault of NQSFLOW_TEST_FAULT ("fault:count:module"),
# injected only into the stage started as `python -m module`.
_SITECUSTOMIZE = (
    _FAULTS
    + r"""
fault, count, module = os.environ["NQSFLOW_TEST_FAULT"].split(":")
if sys.orig_argv[1:3] == ["-m", module]:
    inject(fault, int(count), module)
"""
)


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


@pytest.mark.slow
def test_a_job_killed_in_its_write_fails_the_run_and_the_rerun_completes(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    pythonpath = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    faulty = dict(env, PYTHONPATH=pythonpath, NQSFLOW_TEST_FAULT="kill-flush:1:nqsflow.theory")
    theory = work / "results/micro/theory/gauss-pade.h5"

    first = _run(sys.executable, work, MICRO, env=faulty)
    assert first.returncode != 0, first.stderr[-2000:]
    assert "failed job's log: logs/micro/theory/gauss-pade.log" in first.stderr
    assert not theory.exists()
    # the killed write left its hidden temporary, and Snakemake does not know it
    (leftover,) = _temporaries(work)
    assert leftover.parent == theory.parent and leftover.name.startswith(".gauss-pade.h5.")
    vmc = sorted((work / "results/micro/vmc").rglob("*.h5"))
    assert len(vmc) == 4  # the finished runs are kept
    digests = {path: sha256(path) for path in vmc}

    second = _run(sys.executable, work, MICRO, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nqsflow: study 'micro' done." in second.stderr
    read_artifact(theory, schema="nqsflow.theory")
    for name in report_files(MICRO):
        assert (work / "results/micro/report" / name).stat().st_size > 0, name
    assert {path: sha256(path) for path in vmc} == digests  # not run again
    assert _temporaries(work) == []  # the next write of the theory removed the leftover


def test_a_write_removes_only_the_stale_temporaries_of_its_name(tmp_path):
    host = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        names = {
            "stale": f".run.h5.{host}-{gone.pid}.a1b2c3d4.tmp",
            "stale folder": f".run.h5.{host}-{gone.pid}.e5f6g7h8.tmp",
            "live writer": f".run.h5.{host}-{live.pid}.i9j0k1l2.tmp",
            "other host": f".run.h5.elsewhere-{gone.pid}.m3n4o5p6.tmp",
            "other name": f".run2.h5.{host}-{gone.pid}.q7r8s9t0.tmp",
            "not ours": ".run.h5.tmp",
        }
        for label, name in names.items():
            if label == "stale folder":
                (tmp_path / name).mkdir()
                (tmp_path / name / "summary.md").write_text("x")
            else:
                (tmp_path / name).write_bytes(b"partial")
        write_artifact(tmp_path / "run.h5", {"x": [1.0, 2.0]}, {"schema": "test/1"})
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {"run.h5", *names.values()} - {names["stale"], names["stale folder"]}
        # a live writer's temporary is removed once it is gone
        live.kill()
        live.wait()
        assert remove_stale_temporaries(tmp_path / "run.h5") == [tmp_path / names["live writer"]]
    finally:
        live.kill()
        live.wait()
