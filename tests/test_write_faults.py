"""Faults at write time and in input files: nothing half-written is ever passed on.

- ``kill -9`` in the middle of a write (a thread sends SIGKILL to its own
  process while the HDF5 file is being built, or after its bytes are on disk but
  before the rename): no file under the final name, an older checkpoint intact,
  and the same command run again completes.
- A file-size limit (``RLIMIT_FSIZE``, a full disk as the process sees it): one
  line naming the file, exit status 2, no partial output, the checkpoint kept.
- A truncated or foreign input artifact: refused naming the file and the problem.

The faults are injected in subprocesses started by a small wrapper
(``_WRAPPER``) that patches :mod:`nqsflow.artifacts` and then runs the stage as
``python -m`` would.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from nqsflow.artifacts import read_artifact
from nqsflow.cli import run_cli
from nqsflow.errors import ArtifactError, SchemaMismatchError
from nqsflow.vmc.__main__ import PROGRESS
from nqsflow.vmc.__main__ import main as vmc_main

REPO = Path(__file__).resolve().parents[1]
SPEC = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [{"kind": "gaussian", "alpha": 1.0}, {"kind": "pade_jastrow", "beta": 0.4}],
    "sampler": {"kind": "metropolis", "walkers": 50, "burn_in": 10, "thin": 2},
    "optimizer": {"kind": "sgd", "learning_rate": 0.01, "steps": 15, "samples": 200},
    "production": {"samples": 20000},
    "seed": 1,
}
# The faults: ``inject`` patches nqsflow.artifacts (or the process's limits) before the
# stage runs.  The wrapper below runs one stage with it; tests/test_workflow_faults.py
# installs the same code as a ``sitecustomize`` in the jobs of a Snakemake run.
_FAULTS = r'''
import os, resource, signal, sys, threading, time

def inject(fault, count, module):
    import nqsflow.artifacts as art

    calls = [0]

    def kill_now():
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGKILL)).start()
        time.sleep(60)

    if fault == "kill-build":  # in the middle of building the file: at the count-th subgroup
        build = art._write_group
        def patched(group, tree):
            if group.name != "/":
                calls[0] += 1
                if calls[0] == count:
                    kill_now()
            return build(group, tree)
        art._write_group = patched
    elif fault == "kill-flush":  # the bytes written, the rename not yet done
        fsync = os.fsync
        def patched(fd):
            calls[0] += 1
            if calls[0] == count:
                kill_now()
            return fsync(fd)
        os.fsync = patched
    elif fault == "fsize":  # files may grow to `count` bytes: a full disk as the process sees it
        if module == "nqsflow.vmc":
            from nqsflow.vmc.parallel import world
            world()  # MPI's own shared-memory files first
        resource.setrlimit(resource.RLIMIT_FSIZE, (count, resource.RLIM_INFINITY))
'''
_WRAPPER = _FAULTS + r'''
import runpy

fault, count, module, *argv = sys.argv[1:]
inject(fault, int(count), module)
sys.argv = [module, *argv]
runpy.run_module(module, run_name="__main__", alter_sys=True)
'''


def _stage(tmp_path, fault, count, module, *argv):
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(_WRAPPER)
    return subprocess.run(
        [sys.executable, str(wrapper), fault, str(count), module, *map(str, argv)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def _spec_file(tmp_path, **optimizer):
    spec = copy.deepcopy(SPEC)
    spec["optimizer"].update(optimizer)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_kill_9_while_the_data_stage_writes_leaves_no_file(tmp_path):
    out = tmp_path / "results" / "reference.h5"
    done = _stage(tmp_path, "kill-flush", 1, "nqsflow.data", REPO / "config" / "config.yaml",
                  "--out", out)  # fmt: skip
    assert done.returncode == -9, done.stderr
    assert not out.exists()
    assert _visible(out.parent) == []  # at most a hidden .reference.h5.*.tmp is left


def test_kill_9_during_a_checkpoint_keeps_the_older_one_and_the_rerun_completes(tmp_path):
    spec = _spec_file(tmp_path)
    out = tmp_path / "run.h5"
    # checkpoints at steps 5, 10, 15, of 5 groups each: killed while building the second
    done = _stage(tmp_path, "kill-build", 8, "nqsflow.vmc", spec, "--out", out,
                  "--checkpoint-every", 5)  # fmt: skip
    assert done.returncode == -9, done.stderr
    assert _visible(tmp_path) == ["run.checkpoint.h5", "spec.yaml", "wrapper.py"]
    tree = read_artifact(tmp_path / "run.checkpoint.h5", schema="nqsflow.vmc-checkpoint/1")
    assert tree["state"]["@attrs"]["step"] == 5
    status = run_cli(vmc_main, [str(spec), "--out", str(out), "--checkpoint-every", "5"])
    assert status == 0 and out.exists()
    assert not (tmp_path / "run.checkpoint.h5").exists()


def test_a_full_disk_is_one_line_with_no_partial_output(tmp_path):
    spec = _spec_file(tmp_path)
    out = tmp_path / "run.h5"
    # measured: a checkpoint of this run is ~16 kB, its artifact ~26 kB
    done = _stage(tmp_path, "fsize", 20000, "nqsflow.vmc", spec, "--out", out,
                  "--checkpoint-every", 5)  # fmt: skip
    lines = [line for line in done.stderr.strip().splitlines() if not PROGRESS.match(line)]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"{out}: cannot write (File too large)" in lines[0]
    assert _visible(tmp_path) == ["run.checkpoint.h5", "spec.yaml", "wrapper.py"]
    # the finished optimisation is not lost: the rerun goes straight to production
    status = run_cli(vmc_main, [str(spec), "--out", str(out)])
    assert status == 0 and out.exists()
    done = _stage(tmp_path, "fsize", 2000, "nqsflow.data", REPO / "config" / "config.yaml",
                  "--out", tmp_path / "reference.h5")  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "reference.h5: cannot write" in done.stderr
    assert not (tmp_path / "reference.h5").exists()


@pytest.mark.mpi
def test_a_full_disk_under_mpi_is_one_line_and_the_rerun_resumes(tmp_path):
    from .conftest import tool

    spec = _spec_file(tmp_path)
    out = tmp_path / "run.h5"
    (tmp_path / "wrapper.py").write_text(_WRAPPER)
    # measured with two ranks: a checkpoint ~20 kB, the artifact ~24 kB
    command = [tool("mpiexec"), "-n", "2", sys.executable, "wrapper.py", "fsize", "22000",
               "nqsflow.vmc", str(spec), "--out", str(out), "--checkpoint-every", "5"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    lines = [line for line in done.stderr.strip().splitlines() if not PROGRESS.match(line)]
    # rank 0 fails past the last reduction: it says why and ends, no abort to lose the line
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"{out}: cannot write (File too large)" in lines[0]
    assert _visible(tmp_path) == ["run.checkpoint.h5", "spec.yaml", "wrapper.py"]
    command = [tool("mpiexec"), "-n", "2", tool("nqsflow"), "vmc", str(spec), "--out", str(out)]
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0 and "resuming from" in rerun.stderr, rerun.stderr
    assert out.exists() and not (tmp_path / "run.checkpoint.h5").exists()


@pytest.fixture(scope="module")
def vmc_artifact(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vmc")
    spec = _spec_file(folder, steps=2)
    assert run_cli(vmc_main, [str(spec), "--out", str(folder / "run.h5")]) == 0
    return folder / "run.h5"


@pytest.mark.parametrize("keep", [0, 8, 600, 0.5, -1], ids=lambda k: f"keep={k}")
def test_a_truncated_artifact_is_refused_naming_the_file(tmp_path, vmc_artifact, keep):
    data = vmc_artifact.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    bad = tmp_path / "run.h5"
    bad.write_bytes(data[:cut])
    with pytest.raises(ArtifactError, match=r"run\.h5: not a readable HDF5 file"):
        read_artifact(bad, schema="nqsflow.vmc")


def test_a_bad_checkpoint_is_one_line_naming_it(tmp_path, vmc_artifact, capsys):
    spec = _spec_file(tmp_path)
    checkpoint = tmp_path / "run.checkpoint.h5"
    for content, problem in [
        (vmc_artifact.read_bytes()[:1000], "not a readable HDF5 file"),
        (vmc_artifact.read_bytes(), "schema is 'nqsflow.vmc/1', expected"),
    ]:
        checkpoint.write_bytes(content)
        status = run_cli(vmc_main, [str(spec), "--out", str(tmp_path / "run.h5")])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1, err
        assert f"{checkpoint}: {problem}" in err[0]
        assert not (tmp_path / "run.h5").exists()


def test_a_foreign_or_schema_less_file_is_named(tmp_path, vmc_artifact):
    shutil.copy(vmc_artifact, tmp_path / "run.h5")
    with pytest.raises(SchemaMismatchError, match=r"run\.h5: schema is 'nqsflow.vmc/1'"):
        read_artifact(tmp_path / "run.h5", schema="nqsflow.fit")
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["x"] = np.ones(2)
    with pytest.raises(SchemaMismatchError, match=r"plain\.h5: has no 'schema'"):
        read_artifact(tmp_path / "plain.h5", schema="nqsflow.vmc")


_RANK = r'''
import os, runpy, sys
from mpi4py import MPI
open(f"rank{MPI.COMM_WORLD.Get_rank()}.pid", "w").write(str(os.getpid()))
sys.argv = ["nqsflow.vmc", *sys.argv[1:]]
runpy.run_module("nqsflow.vmc", run_name="__main__", alter_sys=True)
'''


@pytest.mark.mpi
def test_a_rank_killed_mid_run_ends_the_job_and_keeps_the_checkpoint(tmp_path):
    import os
    import signal
    import time

    from nqsflow.vmc.checkpoint import read_checkpoint

    from .conftest import tool

    spec = _spec_file(tmp_path, steps=100000)
    (tmp_path / "rank.py").write_text(_RANK)
    job = subprocess.Popen(
        [tool("mpiexec"), "-n", "2", sys.executable, "rank.py", str(spec), "--out", "run.h5",
         "--checkpoint-every", "20"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        checkpoint = tmp_path / "run.checkpoint.h5"
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert checkpoint.exists()
        os.kill(int((tmp_path / "rank1.pid").read_text()), signal.SIGKILL)  # in its reductions
        output, _ = job.communicate(timeout=60)  # the other rank must not wait forever
    finally:
        job.kill()
    assert job.returncode != 0, output
    assert not (tmp_path / "run.h5").exists()
    spec_dict = yaml.safe_load(spec.read_text())
    for rank in (0, 1):  # whole and resumable by two ranks
        assert read_checkpoint(checkpoint, spec_dict, rank, 2)["shared"]["scalars"]["step"] >= 20


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from nqsflow.data.__main__ import main as data_main

    out = tmp_path_factory.mktemp("data") / "reference.h5"
    assert run_cli(data_main, [str(REPO / "config" / "config.yaml"), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("stage", ["theory", "fit", "bma", "report"])
@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_every_stage_names_a_bad_input_in_one_line(tmp_path, capsys, reference, stage, damage):
    import importlib

    bad = tmp_path / "bad.h5"
    data = reference.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else data)
    config = str(REPO / "config" / "config.yaml")
    ref = str(bad if damage == "truncated" else reference)
    argv = {
        "theory": [config, "--name", "gauss-pade", "--reference", ref, "--vmc", str(bad),
                   "--out", "t.h5"],
        "fit": [config, "--theory", "gauss-pade", "--method", "gp", "--reference", ref,
                "--theory-file", str(bad), "--out", "f.h5"],
        "bma": [config, "--reference", ref, "--fits", str(bad), "--out", "b.h5"],
        "report": [config, "--reference", ref, "--bma", str(bad), "--outdir", "rep"],
    }[stage]  # fmt: skip
    main = importlib.import_module(f"nqsflow.{stage}.__main__").main
    status = run_cli(main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    problem = "not a readable HDF5 file" if damage == "truncated" else "schema is 'nqsflow.data/1'"
    assert f"bad.h5: {problem}" in err[0], err
