"""Fuzz the VMC run spec: every leaf of a valid spec made wrong, through the stage's CLI.

Each leaf is replaced by a value of the wrong type, a negative, zero and a huge
value, and deleted.  Every case must either run (exit 0), or be refused with
exit status 2 and one line on stderr that names the key, or (a huge amount of
work: burn-in) still be running at its time limit and then stop within a few
seconds of a SIGTERM (what SLURM sends before its time limit) with status 75
and one line.  Anything else, a traceback or a run deaf to SIGTERM above all,
fails.  A few huge but allowed values (:data:`LONG`) run long in each phase of
a run: each must stop on a SIGTERM too.  The cases run in-process through
:func:`nqsflow.cli.run_cli` (what ``python -m nqsflow.vmc`` runs); the huge ones
each in a forked child under a cap on the address space, so a huge allocation
is a ``MemoryError`` and not a machine out of memory;
:func:`test_some_cases_as_the_real_command` runs a few as subprocesses.
"""

from __future__ import annotations

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
from nqsflow.config import leaves
from nqsflow.vmc.__main__ import INTERRUPTED, PROGRESS
from nqsflow.vmc.__main__ import main as vmc_main

from .conftest import MISSING, mutated

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
# if a SIGTERM then stops the run
WORK = {"steps", "burn_in", "thin", "decay_steps", "window", "hidden", "samples", "walkers",
        "block_size", "bins", "particles"}  # fmt: skip
HUGE = 10**12
# seconds a case with a huge value may run (in a forked child) before it gets a SIGTERM
LIMIT_HUGE_S = 1.0
# seconds it then has to stop: a production call of the kernels at the cap of sampler.thin
# takes a few (here the numpy path: milliseconds)
RESPOND_S = 5.0
# huge values a run accepts: minutes of burn-in, optimisation and production, and the cap of
# sampler.thin; before issue 11's fix a SIGTERM in the burn-in or production went unheard
LONG = [(("sampler", "burn_in"), 10**6), (("optimizer", "steps"), 10**6),
        (("production", "samples"), 3 * 10**7), (("sampler", "thin"), 100)]  # fmt: skip


def _mutations(value):
    if isinstance(value, str):
        return {"type": 3, "empty": "", "unknown": "bogus", "missing": MISSING}
    huge = HUGE if isinstance(value, int) else 1e300
    return {"type": "x", "negative": -1, "zero": 0, "huge": huge, "missing": MISSING}


def _cases():
    cases = []
    for path, value in leaves(BASE):
        for name, wrong in _mutations(value).items():
            label = ".".join(map(str, path)) + f"={name}"
            cases.append(pytest.param(path, wrong, wrong == HUGE, id=label))
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
    pytest.param(path, wrong, False, id=".".join(map(str, path)) + f"={wrong!r}")
    for path, wrong in EXTRA
] + [
    pytest.param(path, wrong, True, id=".".join(map(str, path)) + f"={wrong!r}")
    for path, wrong in LONG
]  # fmt: skip


def _outcome(tmp_path, capsys, path, wrong, forked):
    """``("ran" | "refused" | "interrupted", stderr lines)``; a bug fails the test.

    A case with a huge value runs in a forked child (:func:`_in_child`); the
    others, refused at once or run in ~0.3 s, run in-process.
    """
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(mutated(BASE, path, wrong)))
    argv = [str(spec_path), "--out", str(tmp_path / "run.h5"), "--log-every", "1000"]
    if forked:
        return _in_child(argv, tmp_path / "stderr.txt")
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        status = run_cli(vmc_main, argv)
    finally:
        for sig, handler in saved.items():  # the VMC command installs its own
            signal.signal(sig, handler)
    err = capsys.readouterr().err.splitlines()
    assert status in (0, 2), (status, err)
    return ("ran" if status == 0 else "refused"), err


def _in_child(argv, err_path):
    """Run the command in a forked child (the modules are loaded already) under a cap on
    its address space; still running at LIMIT_HUGE_S, it gets a SIGTERM and must stop
    within RESPOND_S, else it is killed and the test fails."""
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
    code = _wait(pid, LIMIT_HUGE_S)
    signalled = code is None
    if signalled:
        os.kill(pid, signal.SIGTERM)
        code = _wait(pid, RESPOND_S)
    if code is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"still running {RESPOND_S} s after a SIGTERM: {err_path.read_text()}")
    err = err_path.read_text().splitlines()
    expected = {0: "ran", 2: "refused", **({INTERRUPTED: "interrupted"} if signalled else {})}
    assert code in expected, (code, err)
    return expected[code], err


def _wait(pid: int, seconds: float) -> int | None:
    """The exit code of child ``pid``, or None while it still runs after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


@pytest.mark.parametrize(("path", "wrong", "forked"), CASES)
def test_a_wrong_leaf_runs_or_is_refused_in_one_line_naming_it(
    tmp_path, capsys, path, wrong, forked
):
    outcome, err = _outcome(tmp_path, capsys, path, wrong, forked)
    key = str(path[-1]) if isinstance(path[-1], str) else str(path[-2])
    if outcome == "refused":
        assert len(err) == 1, err
        assert err[0].startswith("nqsflow.vmc: error: "), err
        # an electron number that is no closed shell asks for the key that fixes it
        names = {key, "spins"} if key == "particles" else {key}
        assert any(name in err[0] for name in names), err
    elif outcome == "interrupted":  # stopped by the SIGTERM, in one line
        assert key in WORK, f"{key} = {wrong!r} still running: {err}"
        lines = [line for line in err if not PROGRESS.match(line)]
        assert len(lines) == 1 and lines[0].startswith("interrupted by a signal"), err
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
    spec_path.write_text(yaml.safe_dump(mutated(BASE, path, wrong)))
    done = subprocess.run(
        [sys.executable, "-m", "nqsflow.vmc", str(spec_path), "--out", str(tmp_path / "o.h5")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and path[-1] in lines[0], lines
