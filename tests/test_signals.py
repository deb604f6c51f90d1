"""SIGTERM outside the optimisation: the burn-in and the production stop at once.

Inside the optimisation a signal waits for the step boundary (tests/mpi/test_restart.py);
before the first step and in the production there is nothing to save, so the run
stops at once with status 75, and the rerun gives the numbers of an uninterrupted run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import yaml

from nqsflow.artifacts import ATTRS, read_artifact
from nqsflow.vmc.__main__ import INTERRUPTED
from nqsflow.vmc.checkpoint import checkpoint_path

SPEC = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [{"kind": "gaussian"}, {"kind": "pade_jastrow"}],
    "sampler": {"kind": "langevin", "walkers": 100, "burn_in": 10, "thin": 1},
    "optimizer": {"kind": "adam", "learning_rate": 0.01, "steps": 3, "samples": 200},
    "production": {"samples": 2_000_000},  # about 2 s
    "seed": 8,
}


def _start(tmp_path, spec, out):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "nqsflow.vmc", str(path), "--out", str(out),
               "--checkpoint-every", "0"]  # fmt: skip
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


def _until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _catches_sigterm(pid: int) -> bool:
    # the run's handler is in place once the kernel lists SIGTERM among the caught signals
    with open(f"/proc/{pid}/status") as fh:
        caught = next(line for line in fh if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _stop(proc) -> list[str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()  # deaf to SIGTERM
        raise
    assert proc.returncode == INTERRUPTED, err
    return err.strip().splitlines()


def _numbers(path) -> dict:
    out = {}

    def walk(node, prefix):
        for key, value in node.items():
            if key == ATTRS:
                out.update({f"{prefix}@{k}": v for k, v in value.items()
                            if prefix or k not in ("created", "git_revision")})  # fmt: skip
            elif isinstance(value, dict):
                walk(value, f"{prefix}/{key}")
            else:
                out[f"{prefix}/{key}"] = value

    walk(read_artifact(path), "")
    return out


def test_sigterm_in_the_burn_in_stops_at_once_with_nothing_saved(tmp_path):
    spec = {**SPEC, "sampler": {**SPEC["sampler"], "burn_in": 10**9}}
    out = tmp_path / "run.h5"
    proc = _start(tmp_path, spec, out)
    _until(lambda: _catches_sigterm(proc.pid))
    lines = _stop(proc)
    assert len(lines) == 1 and "before its first step; nothing saved yet" in lines[0], lines
    assert not checkpoint_path(out).exists() and not out.exists()


def test_sigterm_in_the_production_stops_at_once_and_the_rerun_is_bit_identical(tmp_path):
    reference = tmp_path / "reference.h5"
    done = _start(tmp_path, SPEC, reference)
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err

    out = tmp_path / "run.h5"
    proc = _start(tmp_path, SPEC, out)
    _until(checkpoint_path(out).exists)  # written at the end of the optimisation
    time.sleep(0.1)
    lines = _stop(proc)
    assert lines[-1].startswith("interrupted by a signal during the production; state saved")
    assert checkpoint_path(out).exists() and not out.exists()

    rerun = _start(tmp_path, SPEC, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    a, b = _numbers(reference), _numbers(out)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
