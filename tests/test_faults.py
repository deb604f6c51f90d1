"""Faults: a diverging run stops at once and hands nothing on; the issue-11 findings.

Every run here is tiny (50 walkers, a few hundred samples) and goes through the
stage's own command line in-process (``run_cli``), as ``python -m nqsflow.vmc`` does.
"""

from __future__ import annotations

import copy
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import config_of, read_artifact
from nqsflow.cli import run_cli
from nqsflow.config import validate
from nqsflow.errors import DivergenceError
from nqsflow.vmc.__main__ import PROGRESS
from nqsflow.vmc.__main__ import main as vmc_main
from nqsflow.vmc.artifact import resolved_runspec, write_result
from nqsflow.vmc.driver import run
from nqsflow.vmc.guards import check_step

from .conftest import tool
from .test_write_faults import SPEC

# the write-fault tests' run spec with a learning rate that diverges
TINY = {**SPEC, "optimizer": {**SPEC["optimizer"], "learning_rate": 1000},
        "production": {"samples": 200}}


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    # the VMC command installs SIGTERM/SIGUSR1 handlers: give pytest its own back
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGUSR1)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _spec(**sections):
    spec = copy.deepcopy(TINY)
    for name, changes in sections.items():
        spec[name].update(changes)
    return spec


def _errors(capsys) -> list[str]:
    """What the run printed to stderr, less its start and progress lines."""
    lines = capsys.readouterr().err.strip().splitlines()
    return [line for line in lines if not PROGRESS.match(line)]


def _vmc(tmp_path, spec, *extra):
    """Run the VMC command in-process: (exit status, stderr, artifact path)."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "run.h5"
    return run_cli(vmc_main, [str(path), "--out", str(out), *extra]), out


def test_diverging_sgd_stops_at_the_step_with_one_line_and_keeps_the_checkpoint(
    tmp_path, capsys
):
    status, out = _vmc(tmp_path, _spec(), "--checkpoint-every", "1", "--log-every", "100")
    err = _errors(capsys)
    assert status == 2
    assert len(err) == 1, err
    assert "optimisation step 2: the energy variance" in err[0]
    assert "learning_rate" in err[0] and "kept" in err[0]
    assert not out.exists()
    assert not list(tmp_path.glob(".run.h5.*"))  # no temporary left either
    checkpoint = tmp_path / "run.checkpoint.h5"
    assert checkpoint.exists()  # the state after step 1, the last good one
    from nqsflow.vmc.checkpoint import read_checkpoint

    snap = read_checkpoint(checkpoint, _spec(), 0, 1)
    assert snap["shared"]["scalars"]["step"] == 1
    assert np.all(np.isfinite(snap["shared"]["arrays"]["params"]))


def test_without_the_variance_guard_the_first_nan_stops_the_run(tmp_path, capsys):
    spec = _spec(optimizer={"max_variance_ratio": 0})
    status, out = _vmc(tmp_path, spec)
    err = _errors(capsys)
    assert status == 2 and len(err) == 1, err
    # measured: E = -9e213 at step 6 is still finite, its variance is not
    assert "optimisation step 6: the variance is nan" in err[0]
    assert "no checkpoint yet" in err[0] and not out.exists()


def test_a_diverging_run_that_never_reaches_nan_is_stopped_by_the_variance_guard():
    # SGD at learning rate 1 ran 15 steps to E = -4e235, all finite (issue 11)
    with pytest.raises(DivergenceError, match="optimisation step 11: the energy variance"):
        run(_spec(optimizer={"learning_rate": 1.0}))


def test_check_step_names_the_quantity():
    ok = dict(energy=3.0, variance=0.01, gradient=np.zeros(2), params=np.ones(2),
              variances=[0.01, 0.02], energies=[3.0, 3.0])  # fmt: skip
    check_step(5, **ok)
    for key, value, quantity in [
        ("energy", np.inf, "energy"),
        ("variance", np.nan, "variance"),
        ("gradient", np.array([0.0, np.nan]), "gradient"),
        ("params", np.array([np.inf, 1.0]), "parameters"),
        ("variance", 1e5, "variance"),
    ]:
        with pytest.raises(DivergenceError, match=f"optimisation step 5: .*{quantity}") as info:
            check_step(5, **{**ok, key: value})
        assert info.value.step == 5 and info.value.quantity == quantity
    # an exact state has round-off variances: a tiny one after them is no explosion
    check_step(5, **{**ok, "variance": 1e-20, "variances": [0.0, 1e-31]})
    check_step(5, **{**ok, "variance": 1e5}, max_ratio=0)


def test_an_estimate_that_is_not_finite_is_never_written(tmp_path):
    result = run(_spec(optimizer={"learning_rate": 0.01, "steps": 2}))
    result.energy_error = float("nan")
    out = tmp_path / "run.h5"
    with pytest.raises(DivergenceError, match="production: the energy_error is nan"):
        write_result(out, TINY, result, 1)
    assert not out.exists()


# --- the findings of issue 11 -------------------------------------------------------------


def test_block_size_that_does_not_divide_the_walkers_is_one_line(tmp_path, capsys):
    status, out = _vmc(tmp_path, _spec(sampler={"walkers": 10, "block_size": 7}))
    err = _errors(capsys)
    assert status == 2 and len(err) == 1, err
    assert "key 'sampler.block_size'" in err[0] and "(10" in err[0]
    assert not out.exists()


def test_the_console_command_runs_the_all_ranks_wrapper(monkeypatch):
    import nqsflow.vmc.__main__ as vmc_cli
    from nqsflow import cli

    seen = []
    monkeypatch.setattr(vmc_cli, "entry", lambda argv=None: seen.append(argv) or 3)
    assert cli.main(["vmc", "spec.yaml", "--out", "x.h5"]) == 3
    assert seen == [["spec.yaml", "--out", "x.h5"]]


@pytest.mark.mpi
def test_a_diverging_run_under_mpi_stops_every_rank(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec(sampler={"walkers": 25})))
    out = tmp_path / "run.h5"
    done = subprocess.run(
        [tool("mpiexec"), "-n", "2", tool("nqsflow"), "vmc", str(path), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # every rank stops at the same step, so no abort (which can lose the last lines):
    # status 2 and the error once, from rank 0
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "optimisation step 2: the energy variance" in errors[0], errors
    assert "Traceback" not in done.stderr and "Abort" not in done.stderr
    assert not out.exists()


# rank 1 alone is given its own first argument: a fault one rank meets and the others don't
_RANK1_ARG = r'''
import runpy, sys
from mpi4py import MPI
args = sys.argv[2:]
if MPI.COMM_WORLD.Get_rank() == 1:
    args[0] = sys.argv[1]
sys.argv = ["nqsflow.vmc", *args]
runpy.run_module("nqsflow.vmc", run_name="__main__", alter_sys=True)
'''


RUN = ["good.yaml", "--out", "run.h5"]


@pytest.mark.mpi
@pytest.mark.parametrize(
    "args, rank1_spec, message",
    [
        (["good.yaml"], "good.yaml", "the following arguments are required: --out"),
        (["bad.yaml", *RUN[1:]], "bad.yaml", "key 'sampler.walkers'"),
        (["missing.yaml", *RUN[1:]], "missing.yaml", "missing.yaml: cannot read"),
        (RUN, "missing.yaml", "missing.yaml: cannot read"),  # rank 1 alone
        (RUN, "bad.yaml", "key 'sampler.walkers'"),  # rank 1 alone
    ],
    ids=["usage", "bad spec", "missing spec", "rank 1's spec missing", "rank 1's spec bad"],
)
def test_a_bad_input_under_mpi_is_said_once_and_every_rank_ends(
    tmp_path, args, rank1_spec, message
):
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(_spec(optimizer={"learning_rate": 0.01})))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(_spec(sampler={"walkers": -3})))
    (tmp_path / "rank.py").write_text(_RANK1_ARG)
    done = subprocess.run(
        [tool("mpiexec"), "-n", "2", sys.executable, "rank.py", rank1_spec, *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # no rank waits on another (nothing hangs), none aborts (which can lose the line)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "Abort" not in done.stderr
    assert not (tmp_path / "run.h5").exists()

SPECS = {
    "dot-metropolis-sgd": TINY,
    "bosons-langevin-adam-rbm": {
        "system": {"particles": 2, "dim": 3, "omega": 0.5, "interaction": "none"},
        "ansatz": [{"kind": "rbm", "hidden": 2}],
        "sampler": {"kind": "langevin", "walkers": 20, "burn_in": 5},
        "optimizer": {"kind": "adam", "steps": 3, "samples": 100,
                      "convergence": {"tolerance": 1e-3}},
        "production": {"samples": 100},
        "seed": 4,
    },
    "fermions-sr-backflow": {
        "system": {"particles": 3, "dim": 2, "omega": 1.0, "interaction": "coulomb",
                   "spins": [2, 1]},
        "ansatz": [{"kind": "slater_backflow"}, {"kind": "pade_jastrow"}],
        "sampler": {"kind": "langevin", "walkers": 10, "burn_in": 5, "thin": 1},
        "optimizer": {"kind": "sr", "steps": 2, "samples": 40, "schedule": "cosine"},
        "production": {"samples": 40},
        "seed": 5,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", list(SPECS))
def test_the_resolved_spec_is_valid_and_runs_the_same_numbers(name):
    spec = copy.deepcopy(SPECS[name])
    if name == "dot-metropolis-sgd":
        spec["optimizer"].update(learning_rate=0.01, steps=3)
    resolved = resolved_runspec(spec)
    validate(resolved, "runspec")
    assert resolved_runspec(resolved) == resolved
    assert resolved["sampler"]["walkers"] == spec["sampler"]["walkers"]
    assert "bins" in resolved["production"] and "thin" in resolved["sampler"]
    given, filled = run(spec), run(resolved)
    np.testing.assert_array_equal(given.params_final, filled.params_final)
    assert given.energy == filled.energy and given.energy_error == filled.energy_error


def test_the_artifact_records_the_resolved_spec(tmp_path):
    spec = _spec(optimizer={"learning_rate": 0.01, "steps": 2})
    status, out = _vmc(tmp_path, spec)
    assert status == 0
    config = config_of(read_artifact(out, schema="nqsflow.vmc"))
    assert config == resolved_runspec(spec)
    assert config["sampler"]["step"] == 1.0 and config["optimizer"]["schedule"] == "constant"
    assert config["system"]["spins"] == [1, 1]


def test_python_m_is_one_line_on_a_bad_spec(tmp_path):
    # the one subprocess of this file: the real command, not run_cli
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec(sampler={"walkers": 10, "block_size": 7})))
    done = subprocess.run(
        [sys.executable, "-m", "nqsflow.vmc", str(path), "--out", str(tmp_path / "o.h5")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "sampler.block_size" in done.stderr


def test_a_study_is_refused_before_any_work_for_what_its_runs_would_refuse(study_config):
    from nqsflow.config import check_study
    from nqsflow.errors import ConfigError

    study_config["vmc"]["sampler"].update(walkers=10, block_size=7)
    with pytest.raises(ConfigError, match=r"key 'vmc\.sampler\.block_size': 7 does not divide"):
        check_study(study_config)
    study_config["vmc"]["sampler"].pop("block_size")
    name = next(iter(study_config["vmc"]["ansatze"]))
    study_config["vmc"]["ansatze"][name][0]["alpha"] = float("inf")
    with pytest.raises(ConfigError, match=rf"key 'vmc\.ansatze\.{name}\.0\.alpha': inf"):
        check_study(study_config)


@pytest.mark.parametrize("flag", [["--log-every", "0"], ["--checkpoint-every", "-1"]])
def test_bad_command_line_numbers_are_a_usage_error(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as info:
        _vmc(tmp_path, _spec(), *flag)
    assert info.value.code == 2
    assert "--log-every must be at least 1" in capsys.readouterr().err
