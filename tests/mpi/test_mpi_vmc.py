"""Real MPI: `mpiexec -n 2 python -m nqsflow.vmc` against the serial run."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import read_artifact

from ..conftest import tool

pytestmark = pytest.mark.mpi


def _vmc(spec, tmp_path, name, ranks):
    spec_path = tmp_path / f"{name}.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    out = tmp_path / f"{name}.h5"
    cmd = [sys.executable, "-m", "nqsflow.vmc", str(spec_path), "--out", str(out)]
    if ranks > 1:
        cmd = [tool("mpiexec"), "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return proc, out


def test_two_ranks_agree_with_one_within_error_bars(dot_spec, tmp_path):
    serial, serial_out = _vmc(dot_spec, tmp_path, "serial", 1)
    assert serial.returncode == 0, serial.stderr
    parallel, parallel_out = _vmc(dot_spec, tmp_path, "mpi", 2)
    assert parallel.returncode == 0, parallel.stderr
    one = read_artifact(serial_out, schema="nqsflow.vmc/1")
    two = read_artifact(parallel_out, schema="nqsflow.vmc/1")
    assert one["@attrs"]["mpi_ranks"] == 1 and two["@attrs"]["mpi_ranks"] == 2
    e1, e2 = one["estimate"]["@attrs"], two["estimate"]["@attrs"]
    combined = (e1["energy_error"] ** 2 + e2["energy_error"] ** 2) ** 0.5
    assert abs(e1["energy"] - e2["energy"]) < 4 * combined
    assert e1["samples"] == e2["samples"] == dot_spec["production"]["samples"]
    for e in (e1, e2):
        assert abs(e["energy"] - 3.0) < 0.005


def test_two_ranks_reduce_exactly_for_the_exact_state(tmp_path):
    spec = {
        "system": {"particles": 2, "dim": 3, "omega": 0.5, "interaction": "none"},
        "ansatz": [{"kind": "gaussian", "alpha": 0.7}],
        "sampler": {"kind": "metropolis", "walkers": 200, "burn_in": 50, "thin": 2},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": 100, "samples": 2000},
        "production": {"samples": 20000},
        "seed": 9,
    }
    proc, out = _vmc(spec, tmp_path, "exact", 2)
    assert proc.returncode == 0, proc.stderr
    tree = read_artifact(out, schema="nqsflow.vmc")
    assert tree["parameters"]["final"][0] == pytest.approx(1.0, abs=0.02)
    assert tree["estimate"]["@attrs"]["energy"] == pytest.approx(1.5, abs=1e-3)


def test_same_seed_and_ranks_give_identical_datasets(dot_spec, tmp_path):
    dot_spec["optimizer"]["steps"] = 10
    dot_spec["production"]["samples"] = 8000
    runs = [_vmc(dot_spec, tmp_path, f"run{k}", 2) for k in range(2)]
    trees = [read_artifact(out) for _, out in runs]
    for a_key in ("energy", "variance", "grad_norm"):
        assert (trees[0]["optimization"][a_key] == trees[1]["optimization"][a_key]).all()
    assert (trees[0]["estimate"]["energy_series"] == trees[1]["estimate"]["energy_series"]).all()


def test_bad_run_spec_fails_every_rank_promptly(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: {particles: 2}\n")
    start = time.perf_counter()
    proc = subprocess.run(
        [tool("mpiexec"), "-n", "2", sys.executable, "-m", "nqsflow.vmc", str(bad), "--out",
         str(tmp_path / "x.h5")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "nqsflow.vmc: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "x.h5").exists()


def _long_spec(tmp_path):
    spec = {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "gaussian"}, {"kind": "pade_jastrow"}],
        "sampler": {"kind": "langevin", "walkers": 200, "burn_in": 10, "thin": 1},
        "optimizer": {"kind": "adam", "steps": 10**6, "samples": 400},
        "production": {"samples": 1000},
        "seed": 4,
    }
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_killed_rank_brings_the_job_down_promptly(tmp_path):
    import os
    import signal

    out = tmp_path / "never.h5"
    cmd = [tool("mpiexec"), "-n", "2", sys.executable, "-m", "nqsflow.vmc",
           str(_long_spec(tmp_path)), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pattern = f"^{sys.executable} -m nqsflow.vmc .*{out}"
    pids: list[int] = []
    deadline = time.time() + 30
    while len(pids) < 2 and time.time() < deadline:
        time.sleep(0.2)
        ranks = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        pids = [int(p) for p in ranks.stdout.split()]
    assert len(pids) == 2, "expected two rank processes"
    time.sleep(1.0)  # let them reach the optimisation loop
    victim = pids[1]
    start = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert time.perf_counter() - start < 30
    assert not out.exists()


def test_an_exception_on_rank_zero_ends_the_job_with_its_message(tmp_path):
    spec = {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "none"},
        "ansatz": [{"kind": "gaussian"}],
        "sampler": {"kind": "metropolis", "walkers": 50, "burn_in": 5},
        "optimizer": {"kind": "sgd", "steps": 2, "samples": 100},
        "production": {"samples": 200},
        "seed": 1,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    target = tmp_path / "a-directory.h5"
    target.mkdir()  # rank 0 cannot write its artifact here
    proc = subprocess.run(
        [tool("mpiexec"), "-n", "2", sys.executable, "-m", "nqsflow.vmc", str(path), "--out",
         str(target)], capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    # a write that fails is a user's problem now (issue 11): one line naming the file
    assert "a-directory.h5: cannot write (Is a directory)" in proc.stderr


def test_walker_blocks_make_the_chains_independent_of_the_rank_count(dot_spec, tmp_path):
    dot_spec["optimizer"].update(steps=5, samples=2000)
    dot_spec["production"]["samples"] = 8000
    a, b = _one_and_two_ranks(dot_spec, 1000, 250, tmp_path, rtol=1e-12)
    assert a["estimate"]["@attrs"]["acceptance"] == b["estimate"]["@attrs"]["acceptance"]


def _one_and_two_ranks(spec, walkers, block_size, tmp_path, rtol):
    """Artifacts of ``spec`` on 1 rank and on 2 ranks with the same walker blocks.

    The chains are the same; only the order of the sums over ranks differs, so
    the energies agree to round-off (``rtol``; ten times that for the series).
    """
    one = {**spec, "sampler": {**spec["sampler"], "walkers": walkers, "block_size": block_size}}
    two = {**spec, "sampler": {**spec["sampler"], "walkers": walkers // 2,
                               "block_size": block_size}}
    runs = [_vmc(one, tmp_path, "one", 1), _vmc(two, tmp_path, "two", 2)]
    for proc, _ in runs:
        assert proc.returncode == 0, proc.stderr
    a, b = (read_artifact(out) for _, out in runs)
    np.testing.assert_allclose(a["optimization"]["energy"], b["optimization"]["energy"],
                               rtol=rtol)
    np.testing.assert_allclose(a["estimate"]["energy_series"], b["estimate"]["energy_series"],
                               rtol=10 * rtol)
    return a, b


def test_six_electrons_on_two_ranks_follow_the_same_chains_as_on_one(tmp_path):
    # single-particle sweeps with determinant caches: the walker blocks still fix the chains
    spec = {
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.5}],
        "sampler": {"kind": "langevin", "moves": "single", "burn_in": 20, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 4, "samples": 400,
                      "clip_local_energy": 5.0},
        "production": {"samples": 4000},
        "seed": 6,
    }
    a, _ = _one_and_two_ranks(spec, 200, 100, tmp_path, rtol=1e-10)
    assert abs(a["estimate"]["@attrs"]["energy"] - 20.19) < 0.05
