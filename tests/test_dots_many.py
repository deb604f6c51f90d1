"""Studies over several electron numbers: points (N, omega), literature rows, the whole DAG."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import read_artifact
from nqsflow.config import check_study, load_study, point_inputs, runspec_for, study_points
from nqsflow.data.generate import generate_reference
from nqsflow.data.table import load_table, table_rows
from nqsflow.errors import ConfigError

from .conftest import REPO, tool

EXAMPLE = REPO / "config" / "examples" / "dots-many.yaml"


@pytest.fixture
def config():
    return load_study(EXAMPLE)


def test_points_pair_every_electron_number_with_every_omega(config):
    points = study_points(config)
    assert point_inputs(config) == ("particles", "omega")
    assert [(p.particles, p.omega, p.role) for p in points] == [
        (n, w, role)
        for n in (6, 12)
        for w, role in ((0.1, "train"), (0.28, "test"), (0.5, "target"), (1.0, "train"))
    ]
    assert points[0].name == "n6-omega0.1" and points[-1].name == "n12-omega1"
    spec = runspec_for(config, "neural", "n12-omega0.28")
    assert spec["system"] == {"particles": 12, "dim": 2, "omega": 0.28, "interaction": "coulomb"}
    # each run has its own stream
    seeds = {runspec_for(config, "neural", p.name)["seed"] for p in points}
    assert len(seeds) == len(points)


def test_reference_holds_the_chosen_dmc_rows_and_fermionic_free_energies(config):
    tree = generate_reference(config)
    points = tree["points"]
    assert points["@attrs"]["inputs"] == ["particles", "omega"]
    assert points["x"].shape == (8, 2)
    np.testing.assert_array_equal(points["particles"], [6] * 4 + [12] * 4)
    rows = {
        (r.particles, r.omega): r
        for r in load_table()
        if r.method == "dmc" and "Hogberget" in r.citation
    }
    expected = [rows[int(n), w].energy for n, w in points["x"]]
    np.testing.assert_array_equal(tree["exact"]["energy"], expected)
    assert tree["exact"]["energy"][3] == 20.15932  # N = 6, omega = 1 (Hogberget 2013)
    np.testing.assert_array_equal(tree["observations"]["energy"], expected)  # no noise
    # the shells filled once per spin: 10 omega (N = 6) and 28 omega (N = 12)
    filled = np.where(points["x"][:, 0] == 6, 10.0, 28.0) * points["x"][:, 1]
    np.testing.assert_allclose(tree["exact"]["noninteracting"], filled, rtol=1e-14)


def test_many_electron_rows_are_cited_and_dmc_lies_below_vmc():
    rows = [r for r in load_table() if r.particles > 2]
    assert {(r.particles, r.omega) for r in rows} == {
        (n, w) for n in (6, 12) for w in (0.1, 0.28, 0.5, 1.0)
    }
    assert all(r.citation.strip() and r.error > 0 for r in rows)
    vmc = {(r.particles, r.omega): r.energy for r in rows if r.method == "slater-jastrow-vmc"}
    assert len(vmc) == 8
    for r in rows:
        if r.method == "dmc":
            assert r.energy < vmc[r.particles, r.omega]


def test_two_sources_at_one_point_must_be_told_apart(config):
    del config["data"]["citation"]
    with pytest.raises(ConfigError, match="two rows at omega=0.28 for 6 particles.*data.citation"):
        table_rows(config, 6)
    config["data"]["citation"] = "pedersen lohne"  # case-insensitive part of the citation
    assert [r.omega for r in table_rows(config, 6)] == [0.28, 0.5, 1.0]
    # that source has no N = 12 value at omega = 0.1: the design is refused in one line
    with pytest.raises(ConfigError, match=r"design.train': omega=0.1 is not a frequency"):
        check_study(config)


def test_bad_filters_and_sources_are_refused_in_one_line(config):
    config["data"]["method"] = "afqmc"
    with pytest.raises(ConfigError, match="no row for 6 particles.*method 'afqmc'"):
        check_study(config)
    exact = copy.deepcopy(config)
    exact["data"] = {"source": "exact"}
    with pytest.raises(ConfigError, match="list of particle numbers needs data.source: table"):
        generate_reference(exact)
    with pytest.raises(ConfigError, match="system.particles"):
        check_study({**config, "system": {**config["system"], "particles": []}})


SMALL = {
    "study": "dots-small",
    "seed": 4,
    "system": {"name": "dot2d", "particles": [6, 12], "dim": 2, "interaction": "coulomb"},
    "design": {"train": [0.1, 1.0], "test": [0.28], "target": [0.5]},
    "data": {"source": "table", "method": "dmc", "citation": "Hogberget"},
    "vmc": {
        "tasks": 1,
        "ansatze": {
            "slater-jastrow": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.25}]
        },
        "sampler": {"kind": "langevin", "moves": "single", "walkers": 40, "step": 0.5,
                    "burn_in": 20, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "steps": 3,
                      "samples": 200},
        "production": {"samples": 2000},
    },
    "fit": {"methods": {"gp": {"kind": "gp", "input": "log", "restarts": 1},
                        "blr": {"kind": "blr", "features": [1, "particles", "log(omega)"]}}},
    "bma": {"weights": "stacking"},
}  # fmt: skip


@pytest.mark.workflow
@pytest.mark.slow
def test_study_over_electron_numbers_runs_end_to_end(tmp_path):
    config_path = tmp_path / "study.yaml"
    config_path.write_text(yaml.safe_dump(SMALL))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(config_path), "--cores", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = tmp_path / "results" / "dots-small"
    theory = read_artifact(study / "theory" / "slater-jastrow.h5")
    energy = np.asarray(theory["theory"]["mean"])
    reference = read_artifact(study / "data" / "reference.h5")
    dmc = reference["exact"]["energy"]
    # Slater-Jastrow VMC lies above fixed-node DMC with the same nodes; three SR steps
    # from the weak-trap start of the example study come within 5 % of it
    assert np.all(energy > dmc) and np.all(energy < 1.05 * dmc)
    fit = read_artifact(study / "fit" / "slater-jastrow" / "blr.h5")
    assert np.asarray(fit["points"]["x"]).shape == (8, 2)
    summary = (study / "report" / "summary.md").read_text()
    assert "6 and 12 particles" in summary and "| N | ω |" in summary
    assert summary.count("| 12 | ") == 4 and "(BMA − DMC)/σ" in summary
    assert (study / "report" / "energies.png").stat().st_size > 10_000
