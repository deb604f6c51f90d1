"""Fuzz the VMC run spec: every leaf of a valid spec made wrong, through the stage's CLI.

Each leaf is replaced by a value of the wrong type, a negative, zero and a huge
value, and deleted.  Every case must either run (exit 0), or be refused with
exit status 2 and one line on stderr that names the key, or (a huge amount of
work: steps, burn-in) still be running at its time limit.  Anything else, a
traceback above all, fails.  The cases run in-process through
:func:`nqsflow.cli.run_cli` (what ``python -m nqsflow.vmc`` runs) under a cap on
the address space, each in a forked child killed at its time limit, so a huge
allocation is a ``MemoryError`` and not a machine out of memory;
:func:`test_some_cases_as_the_real_command` runs a few as subprocesses.
"""

from __future__ import annotations

import copy
import os
import resource
import signal
import subprocess
import sys
import time
import traceback

import pytest
import yaml

from nqsflow.cli import run_cli
from nqsflow.vmc.__main__ import main as vmc_main

BASE = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [{"kind": "gaussian", "alpha": 1.0}, {"kind": "pade_jastrow", "beta": 0.4},
               {"kind": "rbm", "hidden": 2, "sigma": 1.0, "init_std": 0.05}],
    "sampler": {"kind": "langevin", "walkers": 4, "step": 0.2, "burn_in": 2, "thin": 1,
                "block_size": 2},
    "optimizer": {"kind": "adam", "learning_rate": 0.01, "steps": 2, "samples": 8,
                  "schedule": "cosine", "final_learning_rate": 0.001, "decay_steps": 2,
                  "clip_local_energy": 5.0, "max_variance_ratio": 1e6,
                  "convergence": {"window": 1, "tolerance": 1e-3}},
    "production": {"samples": 8, "bins": 10},
    "seed": 3,
}  # fmt: skip
# keys whose huge value is a huge amount of work: still running at the limit is a pass
WORK = {"steps", "burn_in", "thin", "decay_steps", "window", "hidden", "samples", "walkers",
        "block_size", "bins", "particles"}  # fmt: skip
# seconds a case with a huge value may run (in a forked child) before it counts as running
LIMIT_HUGE_S = 1.0
MISSING = object()


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path, node


def _mutations(value):
    if isinstance(value, str):
        return {"type": 3, "empty": "", "unknown": "bogus", "missing": MISSING}
    huge = 10**12 if isinstance(value, int) else 1e300
    return {"type": "x", "negative": -1, "zero": 0, "huge": huge, "missing": MISSING}


def _cases():
    cases = []
    for path, value in _leaves(BASE):
        for name, wrong in _mutations(value).items():
            label = ".".join(map(str, path)) + f"={name}"
            cases.append(pytest.param(path, wrong, id=label))
    return cases


# values a leaf-by-leaf sweep does not reach: what YAML can spell, and whole sections
EXTRA = [
    (("seed",), 2**64), (("system", "omega"), float("inf")), (("system", "omega"), float("nan")),
    (("sampler", "walkers"), True), (("sampler", "walkers"), 2.5), (("ansatz",), []),
    (("ansatz", 0), "gaussian"), (("sampler",), None), (("optimizer", "convergence"), {}),
    (("system", "spins"), [3, 3]), (("system", "spins"), [1]), (("system", "dim"), 4),
    (("system", "particles"), 3), (("ansatz", 0, "kind"), "slater"),
]  # fmt: skip
CASES = _cases() + [
    pytest.param(path, wrong, id=".".join(map(str, path)) + f"={wrong!r}") for path, wrong in EXTRA
]


def _mutated(path, wrong):
    spec = copy.deepcopy(BASE)
    node = spec
    for key in path[:-1]:
        node = node[key]
    if wrong is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = wrong
    return spec


def _outcome(tmp_path, capsys, path, wrong):
    """``("ran" | "refused" | "running", stderr lines)``; a bug fails the test.

    A case with a huge value runs in a forked child (the modules are loaded
    already) under a cap on its address space, killed at the time limit: that
    also stops a compiled sampling kernel that no signal handler can interrupt.
    The others, refused at once or run in ~0.3 s, run in-process.
    """
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_mutated(path, wrong)))
    argv = [str(spec_path), "--out", str(tmp_path / "run.h5"), "--log-every", "1000"]
    err_path = tmp_path / "stderr.txt"
    if wrong != 10**12:  # no huge work nor memory: in-process, as fast as it gets
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGUSR1)}
        try:
            status = run_cli(vmc_main, argv)
        finally:
            for sig, handler in saved.items():  # the VMC command installs its own
                signal.signal(sig, handler)
        err = capsys.readouterr().err.splitlines()
        assert status in (0, 2), (status, err)
        return ("ran" if status == 0 else "refused"), err
    limit = LIMIT_HUGE_S
    pid = os.fork()
    if pid == 0:  # the child: run the command, exit with its status, never return
        status = 99
        try:
            with open(err_path, "w") as err:
                sys.stderr = err
                with open("/proc/self/statm") as fh:
                    size = int(fh.read().split()[0]) * resource.getpagesize()
                _, hard = resource.getrlimit(resource.RLIMIT_AS)
                resource.setrlimit(resource.RLIMIT_AS, (size + (3 << 30), hard))
                try:
                    status = run_cli(vmc_main, argv)
                except BaseException:
                    traceback.print_exc()
                err.flush()
        finally:
            os._exit(status)
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "running", err_path.read_text().splitlines()
        time.sleep(0.01)
    err = err_path.read_text().splitlines()
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 2), (code, err)
    return ("ran" if code == 0 else "refused"), err


@pytest.mark.parametrize(("path", "wrong"), CASES)
def test_a_wrong_leaf_runs_or_is_refused_in_one_line_naming_it(tmp_path, capsys, path, wrong):
    outcome, err = _outcome(tmp_path, capsys, path, wrong)
    key = str(path[-1]) if isinstance(path[-1], str) else str(path[-2])
    if outcome == "refused":
        assert len(err) == 1, err
        assert err[0].startswith("nqsflow.vmc: error: "), err
        # an electron number that is no closed shell asks for the key that fixes it
        names = {key, "spins"} if key == "particles" else {key}
        assert any(name in err[0] for name in names), err
    elif outcome == "running":
        assert key in WORK and wrong == 10**12, f"{key} = {wrong!r} still running: {err}"
    else:
        assert (tmp_path / "run.h5").exists()


def test_there_are_at_least_a_hundred_cases():
    assert len(CASES) >= 100


@pytest.mark.parametrize(
    ("path", "wrong"),
    [(("sampler", "block_size"), 3), (("optimizer", "learning_rate"), 1e300),
     (("ansatz", 1, "kind"), "bogus")],
)  # fmt: skip
def test_some_cases_as_the_real_command(tmp_path, path, wrong):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_mutated(path, wrong)))
    done = subprocess.run(
        [sys.executable, "-m", "nqsflow.vmc", str(spec_path), "--out", str(tmp_path / "o.h5")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and path[-1] in lines[0], lines
