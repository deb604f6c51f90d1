"""The nuclear mass study: tables, S2n, the chart, the liquid drop, 2-D features and GPs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from nqsflow.bma.weights import average
from nqsflow.data.chart import nuclear_chart
from nqsflow.data.masses import (
    HYDROGEN_EXCESS,
    NEUTRON_EXCESS,
    binding_energy,
    load_mass_table,
    s2n_table,
)
from nqsflow.errors import ConfigError
from nqsflow.fit import design_matrix, feature_terms, fit_residuals
from nqsflow.report.nuclear import drip_line
from nqsflow.theory.masses import BETHE_WEIZSAECKER, fit_liquid_drop

ZN = ("Z", "N")

# Mass excesses (MeV) as printed in the AME2003 file of the masstable package, and
# S2n = Delta(Z, N-2) - Delta(Z, N) + 2 Delta_n worked out by hand with Delta_n =
# 8.0713171 MeV (AME2012).  Literature: S2n(18O) = 12.188, S2n(48Ca) = 17.22,
# S2n(132Sn) = 12.56, S2n(208Pb) = 14.106 MeV.
HAND_S2N = {
    # (Z, N): (Delta(Z, N-2), Delta(Z, N), S2n)
    (8, 10): (-4.7370014099999995, -0.781522, 12.1871547),
    (20, 28): (-43.135076999999995, -44.214129, 17.2216862),
    (50, 82): (-80.138949, -76.554171, 12.5578562),
    (82, 126): (-23.785439999999998, -21.748455000000003, 14.1056492),
}


def test_constants_are_the_evaluated_mass_excesses():
    assert HYDROGEN_EXCESS == 7.288971064 and NEUTRON_EXCESS == 8.0713171


@pytest.mark.parametrize("nucleus", list(HAND_S2N))
def test_s2n_of_ame2003_by_hand(nucleus):
    below, here, s2n = HAND_S2N[nucleus]
    table = load_mass_table("AME2003").lookup()
    z, n = nucleus
    assert table[(z, n - 2)] == below and table[(z, n)] == here
    assert s2n_table(load_mass_table("AME2003"))[nucleus] == pytest.approx(s2n, abs=1e-6)


def test_binding_energy_of_oxygen_16_by_hand():
    # 8 * 7.288971064 + 8 * 8.0713171 + 4.73700141 = 127.6193067 MeV (literature 127.619)
    delta = load_mass_table("AME2003").lookup()[(8, 8)]
    assert binding_energy(8, 8, delta) == pytest.approx(127.6193067, abs=1e-6)


@pytest.mark.parametrize("name", ["DUZU", "FRDM95", "SVM13", "AME2012"])
def test_tables_read_with_any_line_ending(name):
    from importlib import resources

    raw = (resources.files("masstable") / "data" / f"{name}.txt").read_bytes()
    lines = [line for line in raw.decode().splitlines()[1:] if line.strip()]
    table = load_mass_table(name)
    assert table.Z.size == len(lines) == len(table.lookup())  # one row per nucleus
    assert np.all(np.isfinite(table.excess)) and table.Z.min() >= 0


def test_unknown_table_is_a_config_error():
    with pytest.raises(ConfigError, match="'AME2099' is unknown"):
        load_mass_table("AME2099")


# --------------------------------------------------------------------- chart


def small_study(**data):
    return {
        "study": "small",
        "seed": 3,
        "data": {"source": "masses", "Z": {"min": 8, "max": 30}, **data},
        "theories": {"FRDM95": {"kind": "mass_table"}, "HFB26": {"kind": "mass_table"}},
        "fit": {"methods": {"gp": {"kind": "gp"}}},
        "bma": {},
    }


def test_chart_is_the_time_split():
    chart = nuclear_chart(small_study())
    old = s2n_table(load_mass_table("AME2003"))
    new = s2n_table(load_mass_table("AME2012"))
    keys = list(zip(chart.Z.tolist(), chart.N.tolist(), strict=True))
    for key, role, value in zip(keys, chart.role, chart.s2n, strict=True):
        if role == "train":
            assert value == old[key]
        elif role in ("test", "target"):
            assert key not in old and value == new[key]
    counts = {r: int(np.sum(chart.role == r)) for r in ("train", "test", "target", "predict")}
    assert counts["train"] > 300 and abs(counts["test"] - counts["target"]) <= 1
    assert chart.Z.min() == 8 and chart.Z.max() == 30
    assert nuclear_chart(small_study()).role.tolist() == chart.role.tolist()  # seeded
    other = nuclear_chart(small_study(seed=4)).role
    assert other.tolist() != chart.role.tolist()


# --------------------------------------------------------- features and fits


def test_expression_features_on_two_inputs():
    x = np.array([[8.0, 8.0], [82.0, 126.0]])
    terms = feature_terms(BETHE_WEIZSAECKER, None, ZN)
    X = design_matrix(x, terms, ZN)
    np.testing.assert_allclose(X[0], [16, 16 ** (2 / 3), 56 / 16 ** (1 / 3), 0, 0.25])
    a = 208.0
    np.testing.assert_allclose(X[1], [a, a ** (2 / 3), 82 * 81 / a ** (1 / 3), 44**2 / a,
                                      1 / np.sqrt(a)])  # fmt: skip
    for bad, message in (("cos(Z)", "functions"), ("Q*Z", "'Q' is unknown"),
                         ("Z.real", "not allowed"), ("Z +", "not an arithmetic")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            feature_terms([bad], None, ZN)


def test_liquid_drop_is_the_closed_form_least_squares():
    table = load_mass_table("AME2003")
    keep = table.Z >= 8
    x = np.column_stack([table.Z[keep], table.N[keep]]).astype(float)
    binding = binding_energy(table.Z[keep], table.N[keep], table.excess[keep])
    X = design_matrix(x, BETHE_WEIZSAECKER, ZN)
    closed, *_ = np.linalg.lstsq(X, binding, rcond=None)
    fitted, summary = fit_liquid_drop({"method": {"kind": "ols"}}, x)
    np.testing.assert_allclose(summary["hyper"]["weights"], closed, rtol=1e-9)
    np.testing.assert_allclose(fitted, X @ closed, rtol=1e-10)
    # textbook coefficients: volume ~15.7, surface ~17-18, Coulomb ~0.7 MeV; rms ~3 MeV
    a_v, a_s, a_c = closed[0], -closed[1], -closed[2]
    assert 15 < a_v < 16.5 and 16 < a_s < 19.5 and 0.6 < a_c < 0.8
    assert summary["rms_binding"] < 4.0
    alpha = 10.0
    ridge = np.linalg.solve(X.T @ X + alpha * np.eye(5), X.T @ binding)
    _, summary = fit_liquid_drop({"method": {"kind": "ridge", "alpha": alpha}}, x)
    np.testing.assert_allclose(summary["hyper"]["weights"], ridge, rtol=1e-8)


def surface(x):
    """A smooth 2-D function varying faster along the second input."""
    return np.sin(x[:, 0] / 4.0) * np.cos(x[:, 1] / 2.0)


@pytest.mark.parametrize("max_train", [None, 80])
def test_gp_on_a_two_dimensional_function(max_train):
    rng = np.random.default_rng(4)
    grid = np.array([(z, n) for z in range(0, 24) for n in range(0, 24)], dtype=float)
    train = rng.choice(grid.shape[0], 160, replace=False)
    held = np.setdiff1d(np.arange(grid.shape[0]), train)
    y = surface(grid[train]) + rng.normal(0, 0.01, train.size)
    method = {"kind": "gp", "kernel": "rbf", "max_train": max_train, "restarts": 1}
    fit = fit_residuals(method, grid[train], y, np.full(train.size, 1e-4), grid[held],
                        inputs=ZN, seed=1)  # fmt: skip
    error = fit.mean - surface(grid[held])
    assert np.sqrt(np.mean(error**2)) < 0.03
    z = error / np.sqrt(fit.variance + 1e-4)
    assert 0.85 < np.mean(np.abs(z) < 1.96) <= 1.0
    scale_z, scale_n = fit.hyper["length_scale"]
    assert scale_n < scale_z  # anisotropic: the function varies faster along N
    assert fit.hyper["hyper_train_points"] == (max_train or train.size)


def test_average_shares_a_missing_models_weight():
    means = np.array([[1.0, 2.0], [3.0, np.nan]])
    variances = np.array([[0.1, 0.1], [0.1, np.nan]])
    mean, variance, within, between = average(means, variances, [0.5, 0.5])
    np.testing.assert_allclose(mean, [2.0, 2.0])
    np.testing.assert_allclose(within, [0.1, 0.1])
    np.testing.assert_allclose(between, [1.0, 0.0])


def test_drip_line_levels():
    Z = np.array([10] * 5 + [12] * 3)
    N = np.array([20, 22, 24, 26, 28, 22, 24, 26])
    p = np.array([1.0, 0.9, 0.6, 0.2, 0.05, 1.0, 0.95, 0.7])
    drip = drip_line(Z, N, p, [10, 12, 14])
    assert drip[10]["levels"] == {0.84: 22, 0.5: 24, 0.16: 26} and not drip[10]["open"]
    assert drip[12]["levels"][0.5] == 26 and drip[12]["open"]
    assert 14 not in drip
    # the elements of the chart only: report.drip_Z.max of 1e12 is no loop of 1e12 (fuzz)
    start = time.perf_counter()
    assert drip_line(Z, N, p, range(11, 10**12)) == {12: drip[12]}
    assert time.perf_counter() - start < 1.0


def test_mass_study_config_is_checked_before_any_work():
    from nqsflow.config import check_study, load_study

    config = load_study(Path(__file__).resolve().parents[1] / "config/examples/nuclear-masses.yaml")
    config["theories"]["FRDM"] = {"kind": "mass_table"}
    with pytest.raises(ConfigError, match="key 'theories.FRDM': no mass table 'FRDM'"):
        check_study(config)
    del config["theories"]["FRDM"]
    config["data"]["train"] = "AME2020"
    with pytest.raises(ConfigError, match="key 'data.train': 'AME2020' is not one of"):
        check_study(config)
