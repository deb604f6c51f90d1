"""Real MPI: `mpiexec -n 2 python -m nqsflow.vmc` against the serial run."""

from __future__ import annotations

import subprocess
import sys
import time

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
