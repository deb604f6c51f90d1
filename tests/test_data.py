"""The generate stage: exact two-body solver, artifact layout, CLI, reproducible noise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import PROVENANCE_KEYS, config_of, read_artifact
from nqsflow.cli import run_cli
from nqsflow.config import load_study, point_name
from nqsflow.data import (
    generate_reference,
    noninteracting_energy,
    two_body_energy,
    write_reference,
)
from nqsflow.data import two_body as tb
from nqsflow.data.__main__ import main
from nqsflow.errors import ConvergenceError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


# --- exact solver ---------------------------------------------------------------------------


def test_taut_2d_omega_1_is_three():
    # Taut (1994): psi_rel = (1 + r) exp(-r^2/4) solves H_rel with E_rel = 2; E_cm = omega = 1.
    assert abs(two_body_energy(1.0, dim=2, interaction="coulomb") - 3.0) < 1e-8


@pytest.mark.parametrize(
    ("omega", "dim", "exact"),
    [
        # Polynomial (quasi-exact) solutions f = exp(-omega r^2/4) P(r), checked by hand from
        # the series recurrence of the f-equation; E_rel = omega * (deg P + nu + 1).
        (1 / 6, 2, 2 / 3),  # P = 1 + r + r^2/12, E_rel = 1/2, E_cm = 1/6
        (0.5, 3, 2.0),  # Hooke's atom, k = 1/4: E_rel = 5/4, E_cm = 3/4
        (0.1, 3, 0.5),  # P of degree 2: E_rel = 0.35, E_cm = 0.15
        (0.5, 1, 1.5),  # 1D: hard core at contact, same E_rel as 3D l = 0; E_cm = 1/4
    ],
)
def test_quasi_exact_solutions(omega, dim, exact):
    assert two_body_energy(omega, dim=dim) == pytest.approx(exact, abs=1e-8)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("omega", [0.05, 0.3, 1.0, 4.0])
def test_noninteracting_ground_state_is_d_omega(dim, omega):
    assert two_body_energy(omega, dim=dim, interaction="none") == pytest.approx(dim * omega)
    assert noninteracting_energy(omega, 2, dim) == pytest.approx(dim * omega)


def test_noninteracting_energy_keeps_the_shape_of_omega():
    omega = np.array([0.1, 0.5, 2.0])
    np.testing.assert_allclose(noninteracting_energy(omega, 3, 2), 3 * omega)
    assert isinstance(noninteracting_energy(0.5, 2, 2), float)


@pytest.mark.parametrize(("dim", "m"), [(1, 0), (1, 1), (2, 0), (2, 1), (2, -2), (3, 0), (3, 2)])
def test_numerical_solver_without_interaction_hits_oscillator_levels(dim, m):
    # With strength 0 the collocation must give omega * (nu + 1), nu = |m| + dim/2 - 1.
    for omega in (0.05, 1.0, 7.0):
        nu = abs(m) + dim / 2 - 1
        assert tb.relative_energy(omega, dim, m, strength=0.0) == pytest.approx(
            omega * (nu + 1), rel=1e-9
        )


def test_energy_increases_with_omega_and_lies_above_noninteracting():
    omega = np.geomspace(0.05, 2.0, 15)
    for dim in (2, 3):
        energy = np.array([two_body_energy(w, dim=dim) for w in omega])
        assert np.all(np.diff(energy) > 0)
        excess = energy - noninteracting_energy(omega, 2, dim)
        assert np.all(excess > 0)
        # Correlation matters more in weak traps: the Coulomb share per omega falls with omega.
        assert np.all(np.diff(excess / omega) < 0)


def test_higher_relative_angular_momentum_costs_energy():
    for dim in (2, 3):
        levels = [two_body_energy(0.3, dim=dim, m=m) for m in range(4)]
        assert np.all(np.diff(levels) > 0)


def test_self_convergence_across_grids():
    # Weak traps are the hard case (Wigner-molecule-like); both grids must agree closely.
    for omega in (0.01, 0.05, 0.2):
        grids = [
            tb._lowest(omega, 0.5, 1.0, nodes, (2 / omega**2) ** (1 / 3) + tail / omega**0.5)
            for nodes, tail in ((40, 10.0), (80, 16.0))
        ]
        assert abs(grids[0] - grids[1]) < 1e-9
        assert two_body_energy(omega) == pytest.approx(omega + grids[1], abs=1e-9)


def test_disagreeing_grids_raise_convergence_error(monkeypatch):
    monkeypatch.setattr(tb, "_GRIDS", ((6, 12.0), (64, 14.0)))
    with pytest.raises(ConvergenceError, match="did not converge"):
        two_body_energy(0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"omega": 0.0},
        {"omega": -1.0},
        {"omega": float("nan")},
        {"omega": 1.0, "dim": 4},
        {"omega": 1.0, "interaction": "yukawa"},
        {"omega": 1.0, "dim": 3, "m": -1},
        {"omega": 1.0, "dim": 1, "m": 2},
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        two_body_energy(**kwargs)


def test_solver_is_fast():
    import time

    start = time.perf_counter()
    for omega in np.linspace(0.05, 1.5, 15):
        two_body_energy(float(omega))
    assert time.perf_counter() - start < 1.0


# --- artifact ---------------------------------------------------------------------------------


def small_config(**data) -> dict:
    """The default study with a smaller design (the schema needs every section)."""
    config = load_study(DEFAULT_CONFIG)
    config["design"] = {"train": [0.2, 1.0, 0.5], "test": [0.35], "target": [1 / 6]}
    if data:
        config["data"] = data
    return config


def write_yaml(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_cli_writes_the_artifact_layout(tmp_path):
    out = tmp_path / "sub" / "reference.h5"
    cfg = write_yaml(tmp_path / "study.yaml", small_config(noise=0.0))
    done = subprocess.run(
        [sys.executable, "-m", "nqsflow.data", str(cfg), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tree = read_artifact(out, "nqsflow.data/1")

    omega = np.array([1 / 6, 0.2, 0.35, 0.5, 1.0])
    np.testing.assert_allclose(tree["points"]["omega"], omega)
    assert tree["points"]["omega"].dtype == np.float64
    assert list(tree["points"]["name"]) == [point_name(w) for w in omega]
    assert list(tree["points"]["role"]) == ["target", "train", "test", "train", "train"]

    exact = tree["exact"]["energy"]
    assert exact[0] == pytest.approx(2 / 3, abs=1e-8)
    assert exact[-1] == pytest.approx(3.0, abs=1e-8)
    np.testing.assert_allclose(tree["exact"]["noninteracting"], 2 * omega)
    assert "Chebyshev" in tree["exact"]["@attrs"]["method"]
    np.testing.assert_array_equal(tree["observations"]["energy"], exact)
    np.testing.assert_array_equal(tree["observations"]["energy_error"], np.zeros(5))

    attrs = tree["@attrs"]
    assert set(PROVENANCE_KEYS) - {"git_revision"} <= set(attrs)
    assert attrs["schema"] == "nqsflow.data/1"
    assert attrs["seed"] == 20261126
    assert json.loads(attrs["inputs"]) == []
    stored = config_of(tree)
    assert set(stored) == {"study", "seed", "system", "design", "data"}
    assert stored["design"]["target"] == [1 / 6]


def test_default_study_runs(tmp_path):
    out = tmp_path / "reference.h5"
    assert run_cli(main, [str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    tree = read_artifact(out, "nqsflow.data")
    omega = tree["points"]["omega"]
    assert np.all(np.diff(omega) > 0) and omega.size == 27
    assert np.all(tree["exact"]["energy"] > tree["exact"]["noninteracting"])


def test_noninteracting_study_uses_the_analytic_energy(tmp_path):
    config = small_config()
    config["system"]["interaction"] = "none"
    config["system"]["dim"] = 3
    tree = generate_reference(config)
    np.testing.assert_array_equal(tree["exact"]["energy"], tree["exact"]["noninteracting"])
    np.testing.assert_allclose(tree["exact"]["energy"], 3 * tree["points"]["omega"])
    assert tree["exact"]["@attrs"]["method"].startswith("analytic")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["system"].update(particles=3), "system.particles"),
        (lambda c: c["data"].update(noise=-0.1), "data.noise"),
        (lambda c: c["design"].update(test=[1.0]), "design.test"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, edit, message):
    config = small_config(noise=0.0)
    edit(config)
    cfg = write_yaml(tmp_path / "bad.yaml", config)
    out = tmp_path / "never.h5"
    assert run_cli(main, [str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nqsflow.data: error:")
    assert message in err
    assert not out.exists()


def test_missing_config_exits_2(tmp_path, capsys):
    assert run_cli(main, [str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x.h5")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_noise_is_reproducible_with_the_seed(tmp_path):
    config = small_config(noise=0.01)
    first = generate_reference(config)
    again = generate_reference(config)
    np.testing.assert_array_equal(first["observations"]["energy"], again["observations"]["energy"])
    residual = first["observations"]["energy"] - first["exact"]["energy"]
    assert np.all(residual != 0) and np.all(np.abs(residual) < 0.06)
    np.testing.assert_array_equal(first["observations"]["energy_error"], np.full(5, 0.01))

    config["seed"] += 1
    other = generate_reference(config)
    assert not np.array_equal(other["observations"]["energy"], first["observations"]["energy"])

    # Through the file as well: two writes of the same study hold the same observations.
    config["seed"] -= 1
    a = read_artifact(write_reference(config, tmp_path / "a.h5"))
    b = read_artifact(write_reference(config, tmp_path / "b.h5"))
    np.testing.assert_array_equal(a["observations"]["energy"], b["observations"]["energy"])
    np.testing.assert_array_equal(a["observations"]["energy"], first["observations"]["energy"])


def test_explicit_rng_is_used():
    config = small_config(noise=0.5)
    one = generate_reference(config, np.random.default_rng(1))
    two = generate_reference(config, np.random.default_rng(1))
    seeded = generate_reference(config)
    np.testing.assert_array_equal(one["observations"]["energy"], two["observations"]["energy"])
    assert not np.array_equal(one["observations"]["energy"], seeded["observations"]["energy"])
