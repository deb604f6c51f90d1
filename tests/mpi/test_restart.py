"""Checkpoint and restart: a run killed with SIGTERM and resumed equals an uninterrupted one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import ATTRS, read_artifact
from nqsflow.vmc.checkpoint import checkpoint_path, write_checkpoint
from nqsflow.vmc.driver import build_vmc

from ..conftest import tool

SPEC = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [{"kind": "rbm", "hidden": 3, "init_std": 0.1}, {"kind": "pade_jastrow"}],
    "sampler": {"kind": "langevin", "walkers": 500, "step": 0.3, "burn_in": 20, "thin": 1},
    "optimizer": {"kind": "sr", "learning_rate": 0.05, "steps": 4000, "samples": 500,
                  "diag_shift": 0.01},
    "production": {"samples": 5000},
    "seed": 21,
}


def _command(spec_path, out, ranks):
    cmd = [sys.executable, "-m", "nqsflow.vmc", str(spec_path), "--out", str(out),
           "--checkpoint-every", "25"]
    return [tool("mpiexec"), "-n", str(ranks), *cmd] if ranks > 1 else cmd


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if key == ATTRS:
            for name, attr in value.items():
                if prefix or name not in ("created", "git_revision"):
                    out[f"{prefix}@{name}"] = attr
        elif isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}/{key}"))
        else:
            out[f"{prefix}/{key}"] = value
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [1, 2])
def test_sigterm_then_resume_is_bit_identical(tmp_path, ranks):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    reference = tmp_path / "reference.h5"
    done = subprocess.run(_command(spec_path, reference, ranks), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr

    out = tmp_path / "killed.h5"
    ckpt = checkpoint_path(out)
    proc = subprocess.Popen(_command(spec_path, out, ranks), stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # somewhere after the first checkpoint, mid-optimisation
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "interrupted by a signal" in err, err
    assert ckpt.exists() and not out.exists()
    stopped_at = read_artifact(ckpt)["state"][ATTRS]["step"]
    assert 25 <= stopped_at < SPEC["optimizer"]["steps"]

    resumed = subprocess.run(_command(spec_path, out, ranks), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {ckpt} at step {stopped_at}" in resumed.stderr
    assert not ckpt.exists()

    a, b = _flatten(read_artifact(reference)), _flatten(read_artifact(out))
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert len(a["/optimization/energy"]) == SPEC["optimizer"]["steps"]


def test_checkpoint_of_another_run_is_refused(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    short = {**SPEC, "optimizer": {**SPEC["optimizer"], "steps": 30},
             "production": {"samples": 1000}}
    spec_path.write_text(yaml.safe_dump(short))
    out = tmp_path / "run.h5"
    ckpt = checkpoint_path(out)
    # a checkpoint left behind by another spec (the seed differs) must not be resumed
    other = {**short, "seed": 99}
    state = build_vmc(other).init(other["seed"], 5)
    write_checkpoint(ckpt, other, [state.snapshot()])
    proc = subprocess.run(_command(spec_path, out, 1), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "checkpoint of a different run spec" in proc.stderr and "Traceback" not in proc.stderr
