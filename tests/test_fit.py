"""Tests of the fit stage: residual models (GP, Bayesian ridge) and run_fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from nqsflow.artifacts import inputs_of, provenance, read_artifact, sha256, write_artifact
from nqsflow.config import load_study, runspec_for, study_points
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.fit import (
    EVIDENCE_METHODS,
    fit_gp,
    fit_residuals,
    fit_ridge,
    poly_features,
    ridge_weights,
    run_fit,
)
from nqsflow.fit.__main__ import main as fit_main

from .synthetic import exact_energy, gather, write_reference

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"


# ------------------------------------------------------------------ fixtures


def vmc_energy(ansatz, omega):
    """A variational curve above the exact one: offset plus a trend per ansatz."""
    offset = {"gauss-pade": (0.01, 0.02), "rbm": (0.05, 0.03), "rbm-pade": (0.002, 0.004)}
    a, b = offset[ansatz]
    return exact_energy(omega) + a + b * np.asarray(omega)


@pytest.fixture(scope="module")
def config():
    """The default study with one method of every kind."""
    study = load_study(CONFIG)
    study["fit"]["methods"] = {
        "gp": {"kind": "gp"},
        "ridge": {"kind": "ridge", "degree": 3, "alpha": 1e-3},
        "ols": {"kind": "ols", "features": ["1", "omega", "sqrt(omega)"]},
        "lasso": {"kind": "lasso", "features": {"polynomial": 3}},
        "blr": {"kind": "blr", "features": ["1", "omega", "1/omega"]},
    }
    return study


def write_vmc(config, folder, ansatz, skip=(), extra_omega=None):
    rng = np.random.default_rng(7)
    paths = []
    for p in study_points(config):
        if p.name in skip:
            continue
        spec = runspec_for(config, ansatz, p.name)
        if extra_omega is not None and p.role == "target":
            spec["system"]["omega"] = extra_omega
            extra_omega = None
        err = 2e-4
        e = float(vmc_energy(ansatz, spec["system"]["omega"]) + rng.normal(0.0, err))
        tree = {"estimate": {"@attrs": {"energy": e, "energy_error": err, "variance": 1e-3}}}
        path = Path(folder) / "vmc" / ansatz / f"{p.name}.h5"
        attrs = provenance("nqsflow.vmc/1", spec, seed=spec["seed"])
        paths.append(write_artifact(path, tree, attrs))
    return paths


# -------------------------------------------------------------------- models


def test_ridge_matches_normal_equations_and_sklearn():
    from sklearn.linear_model import Ridge

    x = np.linspace(0.2, 1.5, 9)
    y = np.sin(3 * x) + 0.1 * x
    X = poly_features(x, 3)
    assert X.shape == (9, 4)
    w = ridge_weights(X, y, 1e-3)
    normal = np.linalg.solve(X.T @ X + 1e-3 * np.eye(4), X.T @ y)
    sk = Ridge(alpha=1e-3, fit_intercept=False, solver="cholesky").fit(X, y).coef_
    np.testing.assert_allclose(w, normal, rtol=1e-10)
    np.testing.assert_allclose(w, sk, rtol=1e-8)
    fit = fit_ridge(x, y, np.full(9, 1e-8), x, degree=3, alpha=1e-3)
    np.testing.assert_allclose(fit.mean, X @ normal, rtol=1e-10)
    np.testing.assert_allclose(fit.hyper["weights"], normal, rtol=1e-10)


def test_ridge_log_evidence_is_marginal_density():
    rng = np.random.default_rng(1)
    x = np.linspace(0.2, 1.3, 7)
    y = 0.02 + 0.03 * x + rng.normal(0.0, 0.01, x.size)
    fit = fit_ridge(x, y, np.full(x.size, 1e-6), x, degree=2, alpha=0.5)
    s2, X = fit.hyper["sigma2"], poly_features(x, 2)
    cov = s2 * (np.eye(x.size) + X @ X.T / 0.5)
    direct = multivariate_normal(mean=np.zeros(x.size), cov=cov).logpdf(y)
    assert fit.log_evidence == pytest.approx(direct, rel=1e-10)
    # The residual scatter (0.01) dominates the known noise: sigma2 comes from the fit.
    assert fit.hyper["sigma2"] > 1e-5 and fit.hyper["excess_var"] > 0


def test_ridge_noise_floor_is_known_variance():
    x = np.linspace(0.2, 1.3, 7)
    y = 0.1 + 0.2 * x  # exactly representable: residuals ~ 0
    fit = fit_ridge(x, y, np.full(x.size, 4e-6), x, degree=1, alpha=1e-6)
    assert fit.hyper["sigma2"] == pytest.approx(4e-6)
    assert fit.hyper["excess_var"] == 0.0
    assert np.all(fit.variance > 0) and np.all(fit.variance < 4e-6)


@pytest.mark.parametrize("kernel", ["rbf", "matern"])
def test_gp_recovers_smooth_function(kernel):
    f = lambda x: 0.05 * np.sin(2.5 * x) + 0.01 * x  # noqa: E731
    x = np.linspace(0.2, 1.5, 10)
    rng = np.random.default_rng(3)
    noise = np.full(x.size, 1e-8)
    y = f(x) + rng.normal(0.0, 1e-4, x.size)
    grid = np.linspace(0.25, 1.45, 25)
    fit = fit_residuals({"kind": "gp", "kernel": kernel}, x, y, noise, grid)
    assert fit.mean.shape == fit.variance.shape == grid.shape
    assert np.max(np.abs(fit.mean - f(grid))) < 2e-3
    # Far from the data the variance returns to the prior's; on the data it shrinks.
    at = fit_gp(x, y, noise, x, kernel=kernel)
    far = fit_gp(x, y, noise, np.array([30.0]), kernel=kernel)
    prior = at.hyper["amplitude"] ** 2 + at.hyper["white_noise_var"]
    assert far.variance[0] == pytest.approx(prior, rel=1e-3)
    assert np.all(at.variance >= 0) and at.variance.max() < 0.01 * prior


def test_gp_variance_grows_in_a_gap():
    x = np.array([0.2, 0.3, 0.4, 1.0, 1.1, 1.2])
    y = 0.03 * np.cos(2.0 * x)
    fit = fit_gp(x, y, np.full(x.size, 1e-8), np.array([0.4, 0.7, 1.0]))
    assert fit.variance[1] > 3 * max(fit.variance[0], fit.variance[2])


def test_gp_log_evidence_is_density_of_residuals():
    from sklearn.gaussian_process.kernels import RBF

    x = np.array([0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3])
    y = 0.03 + 0.02 * x - 0.01 * x**2 + np.random.default_rng(5).normal(0, 1e-3, x.size)
    noise = np.full(x.size, 1e-6)
    fit = fit_gp(x, y, noise, x, kernel="rbf")
    h = fit.hyper
    cov = (
        h["amplitude"] ** 2 * RBF(h["length_scale"])(x[:, None])
        + (h["white_noise_var"]) * np.eye(x.size)
        + np.diag(noise)
    )
    direct = multivariate_normal(mean=np.full(x.size, h["y_mean"]), cov=cov).logpdf(y)
    assert fit.log_evidence == pytest.approx(direct, rel=1e-6)


def test_unknown_method_is_a_config_error():
    x = np.linspace(0.2, 1.0, 4)
    with pytest.raises(ConfigError, match="kind 'spline'"):
        fit_residuals({"kind": "spline"}, x, x, x * 0, x)
    with pytest.raises(ConfigError, match="kernel"):
        fit_residuals({"kind": "gp", "kernel": "periodic"}, x, x, x * 0, x)
    with pytest.raises(ConfigError, match="degree"):
        fit_residuals({"kind": "gp", "degree": 2}, x, x, x * 0, x)


# --------------------------------------------------------------------- stage


@pytest.mark.parametrize("method", ["gp", "ridge", "ols", "lasso", "blr"])
def test_run_fit_writes_layout_and_provenance(config, tmp_path, method):
    ref = write_reference(config, tmp_path / "reference.h5")
    vmc = write_vmc(config, tmp_path, "gauss-pade")
    theory = gather(config, ref, "gauss-pade", vmc, tmp_path)
    out = run_fit(
        config, "gauss-pade", method, ref, theory, tmp_path / f"fit/gauss-pade/{method}.h5"
    )
    tree = read_artifact(out, schema="nqsflow.fit/1")
    reference = read_artifact(ref)
    for key in ("name", "omega", "role"):
        np.testing.assert_array_equal(tree["points"][key], reference["points"][key])
    n = reference["points"]["omega"].size
    for group, keys in {
        "theory": ("energy", "energy_error"),
        "residual": ("mean", "variance"),
        "prediction": ("mean", "variance"),
    }.items():
        for key in keys:
            assert tree[group][key].shape == (n,)
    np.testing.assert_allclose(
        tree["prediction"]["mean"], tree["theory"]["energy"] + tree["residual"]["mean"]
    )
    np.testing.assert_allclose(
        tree["prediction"]["variance"],
        tree["residual"]["variance"] + tree["theory"]["energy_error"] ** 2,
    )
    model = tree["model"]["@attrs"]
    assert model["name"] == f"gauss-pade/{method}"
    assert (model["ansatz"], model["method"]) == ("gauss-pade", method)
    assert np.isfinite(model["log_evidence"]) == (method in EVIDENCE_METHODS)
    train = tree["points"]["role"] == "train"
    assert np.all(np.isfinite(tree["loo"]["mean"][train]) & (tree["loo"]["variance"][train] > 0))
    assert np.all(np.isnan(tree["loo"]["mean"][~train]))
    np.testing.assert_allclose(
        tree["residual"]["observed"], reference["observations"]["energy"] - tree["theory"]["energy"]
    )
    # The corrected prediction beats the raw VMC curve on the exact energy.
    exact = reference["exact"]["energy"]
    raw = np.abs(tree["theory"]["energy"] - exact).max()
    assert np.abs(tree["prediction"]["mean"] - exact).max() < 0.1 * raw

    attrs = tree["@attrs"]
    assert attrs["schema"] == "nqsflow.fit/1"
    cfg = json.loads(attrs["config"])
    assert cfg["method_config"]["kind"] == method and cfg["theory"] == "gauss-pade"
    assert cfg["fit"] == {"methods": {method: config["fit"]["methods"][method]}}
    inputs = inputs_of(tree)
    assert [i["path"] for i in inputs] == [str(p) for p in [ref, theory]]
    assert all(i["sha256"] == sha256(i["path"]) for i in inputs)


def test_missing_vmc_point_is_named(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    vmc = write_vmc(config, tmp_path, "rbm", skip=("omega0.5",))
    with pytest.raises(ArtifactError, match="omega0.5") as info:
        gather(config, ref, "rbm", vmc, tmp_path)
    assert info.value.path == str(ref)
    assert not (tmp_path / "rbm.theory.h5").exists()


def test_vmc_off_the_design_is_refused(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    vmc = write_vmc(config, tmp_path, "rbm", extra_omega=0.123)
    with pytest.raises(ArtifactError, match="omega=0.123 is not a point") as info:
        gather(config, ref, "rbm", vmc, tmp_path)
    assert info.value.path.endswith(".h5") and info.value.path != str(ref)


def test_vmc_of_another_ansatz_is_refused(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    vmc = write_vmc(config, tmp_path, "rbm")
    with pytest.raises(ArtifactError, match="not of 'gauss-pade'"):
        gather(config, ref, "gauss-pade", vmc, tmp_path)
    theory = gather(config, ref, "rbm", vmc, tmp_path)
    with pytest.raises(ArtifactError, match="holds theory 'rbm', not 'gauss-pade'"):
        run_fit(config, "gauss-pade", "ridge", ref, theory, tmp_path / "out.h5")


def test_unknown_method_name_is_a_config_error(config, tmp_path):
    with pytest.raises(ConfigError, match="no fit method named 'spline'"):
        run_fit(config, "rbm", "spline", tmp_path / "r.h5", [], tmp_path / "out.h5")


def test_cli_writes_artifact(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    vmc = write_vmc(config, tmp_path, "rbm-pade")
    theory = gather(config, ref, "rbm-pade", vmc, tmp_path)
    out = tmp_path / "fit.h5"
    argv = [str(CONFIG), "--theory", "rbm-pade", "--method", "blr", "--reference", str(ref)]
    assert fit_main([*argv, "--theory-file", str(theory), "--out", str(out)]) == 0
    assert read_artifact(out, schema="nqsflow.fit")["model"]["@attrs"]["name"] == "rbm-pade/blr"


def test_cli_user_error_exits_2_with_one_line(tmp_path):
    missing = tmp_path / "nope.h5"
    cmd = [sys.executable, "-m", "nqsflow.fit", str(CONFIG), "--theory", "rbm", "--method"]
    cmd += ["gp", "--reference", str(missing), "--theory-file", str(missing), "--out", "x.h5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.h5" in lines[0] and "error" in lines[0]
    assert not (tmp_path / "x.h5").exists()
