"""Data sources: the hard-sphere solver, Taut's quasi-exact table, and the design rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import gamma, hyperu, pbdv

from nqsflow.config import check_study, load_study, runspec_for, study_points
from nqsflow.data import (
    generate_reference,
    hard_sphere_relative_energy,
    load_table,
    quasi_exact,
    two_body_energy,
)
from nqsflow.data import hard_sphere as hs
from nqsflow.errors import ConfigError, ConvergenceError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


# --- independent solutions of the hard-sphere problem -----------------------------------------


def first_root(f, lo: float, hi: float) -> float:
    """The lowest root of ``f`` in ``(lo, hi)``, bracketed on a fine grid."""
    grid = np.linspace(lo, hi, 2001)
    values = np.array([f(x) for x in grid])
    i = int(np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0])
    return brentq(f, grid[i], grid[i + 1], xtol=1e-15)


def parabolic_cylinder_energy(omega: float, a: float) -> float:
    """3D s-wave (and 1D) relative energy: u = D_v(sqrt(omega) r) vanishes at r = a."""
    x = math.sqrt(omega) * a
    v = first_root(lambda v: pbdv(v, x)[0], 1.0 + 1e-9, 12.0)
    return omega * (v + 0.5)


def confluent_energy_2d(omega: float, a: float) -> float:
    """2D m = 0 relative energy: R = exp(-x/2) U(alpha, 1, x), x = omega r^2 / 2, zero at a."""
    x = omega * a * a / 2
    alpha = -first_root(lambda al: hyperu(-al, 1.0, x), 1e-9, 6.0)
    return omega * (1.0 - 2.0 * alpha)


def busch_energy(omega: float, a: float) -> float:
    """Zero-range (Busch et al. 1998) 3D s-wave energy with scattering length a."""
    length = 1 / math.sqrt(omega)
    f = lambda e: math.sqrt(2) * gamma(-e / 2 + 0.75) / gamma(-e / 2 + 0.25) - length / a  # noqa: E731
    return omega * brentq(f, 1.5 + 1e-12, 3.49)


@pytest.mark.parametrize("a_scaled", [1e-3, 0.05, 0.5, 2.0])
@pytest.mark.parametrize("omega", [0.1, 2.0])
def test_hard_sphere_3d_s_wave_matches_parabolic_cylinder_root(omega, a_scaled):
    a = a_scaled / math.sqrt(omega)
    exact = parabolic_cylinder_energy(omega, a)
    assert hard_sphere_relative_energy(omega, a, dim=3) == pytest.approx(exact, abs=1e-9 * omega)
    # 1D hard rods: both parities obey the 3D s-wave equation outside the core.
    for parity in (0, 1):
        one_d = hard_sphere_relative_energy(omega, a, dim=1, m=parity)
        assert one_d == pytest.approx(exact, abs=1e-9 * omega)


@pytest.mark.parametrize("a", [1e-3, 0.1, 1.0, 2.0])
def test_hard_sphere_2d_matches_confluent_hypergeometric_root(a):
    exact = confluent_energy_2d(0.7, a)
    assert hard_sphere_relative_energy(0.7, a, dim=2) == pytest.approx(exact, abs=1e-9)


def test_small_radius_agrees_with_zero_range_and_perturbation_theory():
    for omega in (0.5, 2.0):
        for a in (1e-3, 1e-2, 3e-2):
            energy = hard_sphere_relative_energy(omega, a, dim=3)
            x = a * math.sqrt(omega)
            # First order: the pseudo-potential shift sqrt(2/pi) a omega^(3/2).
            shift = energy - 1.5 * omega
            assert shift == pytest.approx(math.sqrt(2 / math.pi) * x * omega, rel=2 * x)
            # Busch's zero-range result holds to O(a^2); the effective range enters at a^3.
            assert abs(energy - busch_energy(omega, a)) < 0.5 * omega * x**3


def test_vanishing_radius_gives_the_noninteracting_energy():
    for dim, m in ((2, 0), (2, 1), (3, 0), (3, 1)):
        free = two_body_energy(1.3, dim=dim, interaction="none", m=m)
        shifts = [
            two_body_energy(1.3, dim=dim, interaction="hard_sphere", m=m, radius=a) - free
            for a in (1e-1, 1e-3, 1e-6, 1e-9)
        ]
        assert np.all(np.diff(shifts) < 1e-10) and shifts[0] > 1e-4 and shifts[-1] >= -1e-9
        # 2D s-wave is the slow one: the shift falls like 1/ln(1/a) only.
        assert shifts[-1] < (0.1 if (dim, m) == (2, 0) else 1e-8)


def test_shift_scales_as_radius_to_the_power_2nu():
    # Outside a tiny core psi ~ r^l, so the shift goes like a^(2 nu) with nu = l + d/2 - 1.
    for dim, m, power in ((2, 1, 2), (3, 1, 3)):
        small, double = (hard_sphere_relative_energy(1.0, a, dim, m) - (m + dim / 2) for a in
                         (1e-3, 2e-3))  # fmt: skip
        assert double / small == pytest.approx(2**power, rel=1e-3)


def test_hard_sphere_depends_on_radius_times_sqrt_omega_only():
    e1 = hard_sphere_relative_energy(1.0, 0.4, dim=2, m=2)
    e4 = hard_sphere_relative_energy(4.0, 0.2, dim=2, m=2)
    assert e4 == pytest.approx(4 * e1, rel=1e-10)


def test_hard_sphere_grids_must_agree(monkeypatch):
    monkeypatch.setattr(hs, "_NODES", (4, 6, 8))
    with pytest.raises(ConvergenceError, match="did not converge"):
        hard_sphere_relative_energy(1.0, 0.01, dim=2)


def test_radius_goes_with_hard_sphere_only():
    with pytest.raises(ValueError, match="radius"):
        two_body_energy(1.0, interaction="hard_sphere")
    with pytest.raises(ValueError, match="radius"):
        two_body_energy(1.0, interaction="coulomb", radius=0.1)
    with pytest.raises(ValueError, match="radius"):
        hard_sphere_relative_energy(1.0, -0.1)


# --- Taut's quasi-exact values and the literature table ---------------------------------------


@pytest.mark.parametrize(
    ("dim", "m", "degree", "omega", "energy"),
    [(2, 0, 1, 1.0, 3.0), (2, 0, 2, 1 / 6, 2 / 3), (3, 0, 1, 0.5, 2.0), (3, 0, 2, 0.1, 0.5),
     (2, 1, 1, 1 / 3, 4 / 3), (3, 1, 1, 0.25, 1.25)],
)  # fmt: skip
def test_quasi_exact_closed_forms(dim, m, degree, omega, energy):
    w, e = quasi_exact(dim, m, degree)
    assert (w, e) == (pytest.approx(omega, rel=1e-13), pytest.approx(energy, rel=1e-13))


def test_every_two_body_table_row_is_cited_and_agrees_with_the_solver():
    rows = [r for r in load_table() if r.particles == 2]
    assert len(rows) >= 10
    for row in rows:
        assert row.citation.startswith("M. Taut") and row.error == 0.0
        solved = two_body_energy(row.omega, dim=row.dim, interaction=row.interaction, m=row.m)
        assert solved == pytest.approx(row.energy, abs=1e-8)
        degree = int(row.method.rsplit(" ", 1)[1])
        assert (row.omega, row.energy) == pytest.approx(quasi_exact(row.dim, row.m, degree))


def table_config(**design) -> dict:
    config = load_study(DEFAULT_CONFIG)
    config["data"] = {"source": "table"}
    config["design"] = design or {"split": {"train": 0.5, "test": 0.2, "target": 0.3}}
    return config


def test_table_source_takes_points_and_values_from_the_table():
    config = table_config()
    check_study(config)
    tree = generate_reference(config)
    rows = [r for r in load_table() if (r.particles, r.dim, r.m) == (2, 2, 0)]
    np.testing.assert_array_equal(tree["points"]["omega"], sorted(r.omega for r in rows))
    by_omega = {r.omega: r for r in rows}
    np.testing.assert_array_equal(
        tree["exact"]["energy"], [by_omega[w].energy for w in tree["points"]["omega"]]
    )
    assert all(c.startswith("M. Taut") for c in tree["exact"]["citation"])
    assert tree["exact"]["@attrs"]["source"] == "table"
    assert sorted(tree["points"]["role"]).count("train") == 3
    # Run specs carry the table's frequency to full precision.
    point = study_points(config)[0]
    assert runspec_for(config, "rbm", point.name)["system"]["omega"] == point.omega


def test_table_source_explicit_lists_must_be_table_frequencies():
    config = table_config(train=[1.0, 1 / 6], test=[0.0539257872104618], target=[])
    check_study(config)
    assert study_points(config)[0].omega == 0.05392578721046182  # snapped to the table
    config["design"]["target"] = [0.5]
    with pytest.raises(ConfigError, match="design.target.*not a frequency of the table"):
        check_study(config)


def test_table_without_a_matching_row_or_bad_file_is_refused(tmp_path):
    config = table_config()
    config["data"]["m"] = 5
    with pytest.raises(ConfigError, match="no row for 2 particles"):
        check_study(config)
    bad = tmp_path / "mine.csv"
    bad.write_text("system,particles,dim,interaction,m,omega,energy,error,method,citation\n"
                   "dot,2,2,coulomb,0,0.5,oops,0.0,DMC,me\n")  # fmt: skip
    config["data"] = {"source": "table", "table": str(bad)}
    with pytest.raises(ConfigError, match="row 1 has a missing or bad value"):
        check_study(config)
    good = tmp_path / "good.csv"
    good.write_text("# a comment\nsystem,particles,dim,interaction,m,omega,energy,error,method,"
                    "citation\ndot,2,2,coulomb,0,0.5,1.66,0.01,DMC,A. B. (2000)\n"
                    "dot,2,2,coulomb,0,1.0,3.0,0.01,DMC,A. B. (2000)\n")  # fmt: skip
    config["data"]["table"] = str(good)
    config["design"] = {"train": [0.5, 1.0], "test": [], "target": []}
    tree = generate_reference(config)
    np.testing.assert_allclose(tree["observations"]["energy_error"], [0.01, 0.01])


# --- design rules ----------------------------------------------------------------------------


def rule_config(**rule) -> dict:
    config = load_study(DEFAULT_CONFIG)
    config["design"] = {
        "omegas": {"min": 0.2, "max": 1.5, "points": 20, "spacing": "log"},
        "split": {"train": 0.45, "test": 0.2, "target": 0.35},
        **rule,
    }
    return config


def test_split_rule_is_seeded_and_follows_the_fractions():
    config = rule_config()
    check_study(config)
    points = study_points(config)
    roles = [p.role for p in points]
    assert (roles.count("train"), roles.count("test"), roles.count("target")) == (9, 4, 7)
    assert roles[0] == roles[-1] == "train"  # ends are train points: no extrapolation
    omegas = [p.omega for p in points]
    np.testing.assert_allclose(omegas, np.geomspace(0.2, 1.5, 20), rtol=1e-5)
    assert [p.role for p in study_points(rule_config())] == roles  # same seed, same split
    other = [p.role for p in study_points(rule_config(seed=99))]
    assert other != roles and sorted(other) == sorted(roles)


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ({"split": {"train": 0.1, "test": 0.9}, "omegas": [0.2, 0.4, 0.6]}, "train point"),
        ({"split": {"train": 0.5, "test": 0.2}, "omegas": [0.2, 0.4]}, "sum to 1"),
        ({"split": {"train": 1.0}}, "needs the candidate omegas"),
        ({"split": {"train": 1.0}, "omegas": [0.2, 0.5], "train": [0.3, 0.4]}, "not both"),
        ({"train": [0.2, 0.5], "test": [0.3]}, "need \\['target'\\]"),
        ({"train": [0.2, 0.5], "test": [0.3000001], "target": [0.3]}, "share the point name"),
    ],
)
def test_bad_designs_are_refused_in_one_line(design, message):
    config = load_study(DEFAULT_CONFIG)
    config["design"] = design
    with pytest.raises(ConfigError, match=message) as info:
        check_study(config)
    assert "\n" not in str(info.value) and "design" in str(info.value)


def test_noise_seed_can_be_set_apart_from_the_study_seed():
    config = rule_config()
    config["data"] = {"noise": 0.01}
    base = generate_reference(config)["observations"]["energy"]
    config["data"]["seed"] = 12345
    moved = generate_reference(config)["observations"]["energy"]
    assert not np.array_equal(base, moved)
    config["data"]["seed"] = config["seed"]
    np.testing.assert_array_equal(generate_reference(config)["observations"]["energy"], base)


def test_hard_sphere_study_uses_the_hard_sphere_solver():
    config = load_study(DEFAULT_CONFIG)
    config["system"].update(interaction="hard_sphere", radius=0.2, dim=3)
    config["design"] = {"train": [0.5, 1.0], "test": [], "target": [2.0]}
    check_study(config)
    tree = generate_reference(config)
    expected = [1.5 * w + parabolic_cylinder_energy(w, 0.2) for w in (0.5, 1.0, 2.0)]
    np.testing.assert_allclose(tree["exact"]["energy"], expected, rtol=1e-10)
    assert "ln(r/a)" in tree["exact"]["@attrs"]["method"]
    assert runspec_for(config, "rbm", "omega1")["system"]["radius"] == 0.2
    del config["system"]["radius"]
    with pytest.raises(ConfigError, match="radius"):
        check_study(config)
