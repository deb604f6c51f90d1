"""Fuzz the study config: every leaf of four valid studies made wrong, as `snakemake -n` sees it.

Each leaf is replaced by a value of the wrong type, a negative, zero and a huge
value, and deleted (a string: a number, empty, unknown, deleted); a few cases
add what YAML can spell (nan, inf, true, null) and whole sections.  Every case
must either be planned (the Snakefile accepts it and every job of the DAG gets
its paths, config slice, run spec and resources) or be refused with one line
that names the key; a traceback or a case still running after ``LIMIT_S`` fails.

All cases run in-process through :func:`_plan` (what the Snakefile and a dry run
compute), each in a forked child under a cap on its address space so that a huge
allocation cannot take the machine; :func:`test_a_sample_through_snakemake_dry_run`
runs a fixed sample through a real ``snakemake -n`` and checks it ends the same
way, with the same line.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from nqsflow import workflow as wf
from nqsflow.config import check_study, leaves, runspec_for, study_points
from nqsflow.errors import ConfigError

from .conftest import MISSING, REPO, mutated, tool
from .test_workflow import TINY
from .test_workflow_nuclear import SMALL

# a study of two electron numbers from the literature table, and one with the seeded
# design rule: with the trap study TINY and the mass study SMALL, every section and form
MANY = {
    "study": "many",
    "seed": 7,
    "system": {"name": "dot2d", "particles": [6, 12], "dim": 2, "interaction": "coulomb"},
    "design": {"train": [0.1, 1.0], "test": [0.28], "target": [0.5]},
    "data": {"source": "table", "method": "dmc", "citation": "Hogberget"},
    "vmc": {
        "tasks": 2,
        "ansatze": {
            "slater-jastrow": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.25}],
            "neural": [{"kind": "slater", "envelope": False}, {"kind": "neural_jastrow"}],
        },
        "sampler": {"kind": "langevin", "moves": "single", "walkers": 20, "step": 0.5,
                    "burn_in": 10, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.2, "schedule": "cosine",
                      "final_learning_rate": 0.02, "diag_shift": 0.01, "clip_local_energy": 5.0,
                      "steps": 8, "samples": 200},
        "production": {"samples": 1000},
    },
    "fit": {"methods": {"gp": {"kind": "gp", "kernel": "rbf", "input": "log", "restarts": 2},
                        "blr": {"kind": "blr",
                                "features": ["sqrt(omega)", "particles*sqrt(omega)"]}}},
    "bma": {"weights": "stacking", "loo": True},
}  # fmt: skip
RULE = {
    "study": "rule",
    "seed": 2,
    "system": {"name": "dot", "particles": 2, "dim": 2, "interaction": "coulomb"},
    "design": {"omegas": {"min": 0.2, "max": 1.5, "points": 9, "spacing": "log"},
               "split": {"train": 0.5, "test": 0.25, "target": 0.25}, "seed": 4,
               "keep_ends_train": True},
    "data": {"noise": 0.001, "seed": 9},
    "vmc": {
        "ansatze": {"gauss-pade": [{"kind": "gaussian", "alpha": 0.9},
                                   {"kind": "pade_jastrow", "beta": 0.4}]},
        "sampler": {"kind": "metropolis", "walkers": 40, "step": 1.0, "burn_in": 10, "thin": 2,
                    "block_size": 8},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "schedule": "cosine",
                      "final_learning_rate": 0.005, "steps": 10, "samples": 400,
                      "convergence": {"window": 5, "tolerance": 1e-4}},
        "production": {"samples": 1000, "bins": 20},
    },
    "fit": {"loo": False, "methods": {
        "lasso": {"kind": "lasso", "features": ["1", "omega", "omega^2"], "alpha": 0.01},
        "ols": {"kind": "ols", "degree": 2}}},
    "bma": {"weights": "predictive"},
}  # fmt: skip
BASES = {"dots": TINY, "masses": SMALL, "many": MANY, "rule": RULE}
LIMIT_S = 10.0  # seconds a case may take in-process (they take ~20 ms)
# a refusal may name the key that fixes the case rather than the one changed
ALSO = {
    "particles": {"spins"},
    "walkers": {"block_size"},
    "min": {"omegas"},
    "max": {"omegas"},
    "source": {"design"},
    **{role: {"split"} for role in ("train", "test", "target")},
}


def _mutations(value) -> dict:
    if isinstance(value, bool):
        return {"type": "yes", "int": 1, "missing": MISSING}
    if isinstance(value, str):
        return {"type": 3, "empty": "", "unknown": "bogus", "missing": MISSING}
    huge = 10**12 if isinstance(value, int) else 1e300
    return {"type": "x", "negative": -1, "zero": 0, "huge": huge, "missing": MISSING}


# what a leaf-by-leaf sweep does not reach: YAML's nan, inf, true and null, whole sections,
# and values that are valid alone but not together
EXTRA = [
    ("dots", ("vmc", "sampler", "step"), float("nan")),
    ("dots", ("design", "train", 0), float("inf")),
    ("dots", ("vmc", "tasks"), True),
    ("dots", ("vmc", "sampler", "walkers"), 2.5),
    ("dots", ("vmc",), None),
    ("dots", ("vmc",), MISSING),
    ("dots", ("fit",), None),
    ("dots", ("fit", "methods"), {}),
    ("dots", ("vmc", "ansatze"), {}),
    ("dots", ("design",), None),
    ("dots", ("system",), []),
    ("dots", ("bogus",), 1),
    ("dots", ("study",), "a/b"),
    ("dots", ("design", "test", 0), 0.5),  # also a train point
    ("dots", ("design", "omegas"), [0.5, 1.0]),  # lists and a rule
    ("dots", ("system", "interaction"), "hard_sphere"),  # without its radius
    ("dots", ("data", "source"), "table"),  # frequencies the table lacks
    ("dots", ("system", "particles"), [2, 2]),
    ("rule", ("fit", "methods", "lasso", "features"), ["omega", "omega"]),
    ("rule", ("fit", "methods", "lasso", "features"), ["1", "omega^x"]),
    ("dots", ("fit", "methods", "ridge", "features"), ["omega"]),  # and a degree
    ("masses", ("data", "Z"), {"min": 30, "max": 20}),
    ("masses", ("theories", "FRDM95", "table"), "FRDM"),
    ("masses", ("theories", "ld", "method"), {"kind": "gp"}),
    ("masses", ("theories", "ld", "features"), ["Q"]),
    ("many", ("system", "particles"), [6, 7]),  # 7 electrons are no closed shell
    ("many", ("vmc", "ansatze", "slater-jastrow", 0, "kind"), "rbm"),
    ("rule", ("design", "split", "train"), 0.9),  # fractions summing to 1.4
    ("rule", ("design", "omegas", "min"), 2.0),  # above max
    ("rule", ("design", "omegas"), {"min": 0.2, "max": 1.5, "points": 10**9}),
    ("rule", ("vmc", "sampler", "block_size"), 7),
]


def _case_id(base, path, label) -> str:
    return f"{base}:{'.'.join(map(str, path))}={label}"


def _cases() -> list:
    cases = []
    for base, config in BASES.items():
        for path, value in leaves(config):
            for label, wrong in _mutations(value).items():
                cases.append(pytest.param(base, path, wrong, id=_case_id(base, path, label)))
    for base, path, wrong in EXTRA:
        label = "missing" if wrong is MISSING else repr(wrong)
        cases.append(pytest.param(base, path, wrong, id=_case_id(base, path, label)))
    return cases


CASES = _cases()


def _mutated(base: str, path, wrong) -> dict:
    return mutated(BASES[base], path, wrong)


def _plan(config) -> None:
    """What the Snakefile computes at parse time and a dry run for every job: the check,
    the targets, each config slice, run spec and resources."""
    check_study(config)
    ansatze = wf.ansatze(config)
    wf.wildcard_pattern(wf.theory_names(config))
    for part in wf.slice_names(config):
        wf.stage_slice(config, part)
    wf.report_items(config)
    for stage in ("generate", "theory", "bma", "report"):
        wf.stage_resources(config, stage)
    for method in config["fit"]["methods"]:
        wf.fit_resources(config, method)
    wf.fit_paths(config)
    for point in study_points(config) if ansatze else []:
        for ansatz in ansatze:
            runspec_for(config, ansatz, point.name)
            wf.vmc_resources(config, ansatz, point.name)


def _child(config, write_fd: int) -> None:
    """In a forked child: plan ``config`` under a cap on memory, report and exit."""
    status = 0
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (size + (2 << 30), resource.RLIM_INFINITY))
        try:
            _plan(config)
            result = ["planned", ""]
        except ConfigError as exc:
            result = ["refused", str(exc)]
        except BaseException:
            result = ["bug", traceback.format_exc()]
        os.write(write_fd, json.dumps(result).encode())
    except BaseException:
        status = 99
    finally:
        os._exit(status)


def _outcome(config) -> tuple[str, str]:
    """``("planned" | "refused", message)``; a traceback or a hang fails the test."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(config, write_fd)
    os.close(write_fd)
    deadline = time.monotonic() + LIMIT_S
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read_fd)
            pytest.fail(f"still planning after {LIMIT_S} s")
        time.sleep(0.002)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    assert data, "the child died without a result"
    outcome, message = json.loads(data)
    assert outcome != "bug", message
    return outcome, message


@pytest.fixture(scope="module", autouse=True)
def _bases_are_planned():
    # also imports every module a case needs, so that a forked child starts warm
    for config in BASES.values():
        _plan(copy.deepcopy(config))


def _check_refusal(path, message: str) -> None:
    key = next(str(p) for p in reversed(path) if isinstance(p, str))
    assert "\n" not in message, message
    assert message.startswith("config: key '"), message
    assert any(name in message for name in {key} | ALSO.get(key, set())), (key, message)


@pytest.mark.parametrize(("base", "path", "wrong"), CASES)
def test_a_wrong_leaf_is_planned_or_refused_in_one_line_naming_it(base, path, wrong):
    outcome, message = _outcome(_mutated(base, path, wrong))
    if outcome == "refused":
        _check_refusal(path, message)


def test_there_are_at_least_a_hundred_cases():
    assert len(CASES) >= 100


# Every 60th case, and the cases of the findings this fuzz made (each a traceback or a
# message that named another key before it was fixed).
FINDINGS = [
    "dots:system.interaction=missing",
    "masses:data.source=unknown",
    "masses:data.source=missing",
    "masses:theories.ld.method.kind=unknown",
    "masses:fit.methods.ridge.features.0=unknown",
    "masses:report.drip_Z.min=huge",
    "dots:design.train.0=huge",
    "many:system.particles=[6, 7]",
    "rule:design.omegas={'min': 0.2, 'max': 1.5, 'points': 1000000000}",
]
# and values that are wrong but plan: a huge amount of work, a default
PLANNED = ["dots:vmc.sampler.walkers=huge", "masses:report.drip_Z.max=huge",
           "rule:design.seed=missing"]  # fmt: skip
SAMPLE = [c for i, c in enumerate(CASES) if i % 60 == 0 or c.id in FINDINGS + PLANNED]


def _dry_run(tmp_path, case, outcome: str, message: str) -> str | None:
    """Run ``snakemake -n`` on the case planned or refused in-process (``outcome``,
    ``message``); what is wrong with its ending, or None."""
    config = _mutated(*case.values)
    folder = tmp_path / str(SAMPLE.index(case))
    folder.mkdir()
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(folder),
           "--configfile", str(folder / "study.yaml"), "--cores", "2", "-n", "-q"]  # fmt: skip
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        return "still running after 60 s"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if "Traceback" in done.stderr:
        return f"a traceback: {done.stderr[-1500:]}"
    if outcome == "planned":
        return None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-800:]}"
    expected = f"nqsflow: invalid config: {message}"
    if done.returncode != 1 or lines != [expected]:
        return f"exit {done.returncode}, {lines}, expected {expected!r}"
    return None


@pytest.mark.workflow
def test_a_sample_through_snakemake_dry_run(tmp_path):
    assert 20 <= len(SAMPLE) <= 30, len(SAMPLE)
    assert {c.id for c in SAMPLE} >= set(FINDINGS + PLANNED)
    # the in-process outcomes first: no fork while the pool's threads run
    outcomes = [_outcome(_mutated(*case.values)) for case in SAMPLE]
    assert {"planned", "refused"} <= {outcome for outcome, _ in outcomes}
    with ThreadPoolExecutor(max_workers=2) as pool:  # 2 cores: a dry run is ~2.5 s of CPU
        problems = list(pool.map(lambda c, o: _dry_run(tmp_path, c, *o), SAMPLE, outcomes))
    wrong = {case.id: problem for case, problem in zip(SAMPLE, problems, strict=True) if problem}
    assert not wrong, wrong
