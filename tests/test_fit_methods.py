"""Residual models against their closed forms: OLS, Ridge (CV), Lasso, BLR, GP kernels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from nqsflow.errors import ConfigError
from nqsflow.fit import (
    KERNELS,
    blr_posterior,
    design_matrix,
    extra_variance,
    feature_terms,
    fit_blr,
    fit_lasso,
    fit_ols,
    fit_residuals,
    ridge_cv_alpha,
    ridge_weights,
)

X_TRAIN = np.linspace(0.2, 1.5, 9)
TERMS = ["1", "omega", "sqrt(omega)"]


# ------------------------------------------------------------------- features


@pytest.mark.parametrize(
    ("spec", "terms"),
    [
        ({"polynomial": 2}, ["1", "omega", "omega^2"]),
        ({"polynomial": 0}, ["1"]),
        (["1", "omega^-1", "omega^0.5", "omega ^ (2/3)", "log(omega)"],
         ["1", "1/omega", "sqrt(omega)", "omega^0.6666666666666666", "log(omega)"]),
        ([1, "omega^1"], ["1", "omega"]),
    ],
)  # fmt: skip
def test_feature_terms_are_canonical(spec, terms):
    assert feature_terms(spec, None) == terms
    X = design_matrix([0.25, 4.0], terms)
    assert X.shape == (2, len(terms)) and np.all(np.isfinite(X))


def test_design_matrix_values():
    X = design_matrix([0.25, 4.0], ["1", "1/omega", "sqrt(omega)", "omega^1.5", "log(omega)"])
    np.testing.assert_allclose(X[0], [1, 4, 0.5, 0.125, np.log(0.25)])
    np.testing.assert_allclose(X[1], [1, 0.25, 2, 8, np.log(4.0)])
    assert feature_terms(None, 2) == ["1", "omega", "omega^2"]


@pytest.mark.parametrize(
    ("spec", "degree", "message"),
    [
        (["omega", "cos(omega)"], None, "unknown"),
        (["omega", "omega^1"], None, "repeated"),
        ({"polynomial": 2}, 2, "not both"),
        ({"cubic": 2}, None, "only 'polynomial'"),
        ([], None, "empty"),
    ],
)
def test_bad_feature_specs(spec, degree, message):
    with pytest.raises(ConfigError, match=message):
        feature_terms(spec, degree)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ({"kind": "lasso", "alpha": "evidence"}, "alpha must be a number > 0 or 'cv'"),
        ({"kind": "blr", "prior_precision": "cv"}, "prior_precision must be"),
        ({"kind": "ols", "degree": 2, "features": ["1"]}, "not both"),
        ({"kind": "ols", "alpha": 1.0}, "takes no key"),
        ({"kind": "gp", "input": "sqrt"}, "gp input"),
        ({"kind": "ridge", "degree": 2.0}, "integer"),
    ],
)
def test_bad_method_configs(method, message):
    with pytest.raises(ConfigError, match=message):
        fit_residuals(method, X_TRAIN, X_TRAIN, 0 * X_TRAIN, X_TRAIN)


# ------------------------------------------------------------------------ OLS


def test_ols_is_the_normal_equations_with_leverage_variance():
    rng = np.random.default_rng(2)
    y = 0.01 + 0.02 * X_TRAIN - 0.03 * np.sqrt(X_TRAIN) + rng.normal(0, 1e-3, X_TRAIN.size)
    known = np.full(X_TRAIN.size, 1e-8)
    grid = np.array([0.3, 0.77, 1.6])
    fit = fit_ols(X_TRAIN, y, known, grid, TERMS)
    X, Xg = design_matrix(X_TRAIN, TERMS), design_matrix(grid, TERMS)
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    np.testing.assert_allclose(fit.hyper["weights"], beta, rtol=1e-9)
    np.testing.assert_allclose(fit.mean, Xg @ beta, rtol=1e-9)
    # Equal known noise: noise + fitted scatter is the textbook RSS / (m - p).
    s2_hat = np.sum((y - X @ beta) ** 2) / (X_TRAIN.size - 3)
    assert fit.hyper["excess_var"] + 1e-8 == pytest.approx(s2_hat, rel=1e-8)
    leverage = np.einsum("ij,jk,ik->i", Xg, np.linalg.inv(X.T @ X), Xg)
    np.testing.assert_allclose(fit.variance, s2_hat * leverage + fit.hyper["excess_var"])
    assert np.isnan(fit.log_evidence)


def test_ols_scatter_solves_the_weighted_chi2_with_heteroscedastic_noise():
    rng = np.random.default_rng(3)
    known = np.geomspace(1e-8, 4e-6, X_TRAIN.size)
    y = 0.02 * X_TRAIN + rng.normal(0, 3e-3, X_TRAIN.size)
    X = design_matrix(X_TRAIN, TERMS)
    s2 = extra_variance(X, y, known)
    w = 1 / (known + s2)
    beta = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * y))
    assert np.sum(w * (y - X @ beta) ** 2) == pytest.approx(X_TRAIN.size - 3, rel=1e-8)
    # Error bars that already explain the scatter leave nothing to fit.
    assert extra_variance(X, y, np.full(X_TRAIN.size, 1.0)) == 0.0
    with pytest.raises(ConfigError, match="at least 3 train points"):
        fit_ols(X_TRAIN[:2], y[:2], known[:2], X_TRAIN, TERMS)


def test_linear_models_are_calibrated_on_simulated_data():
    # Many data sets from a known curve with heteroscedastic error bars: the 95 %
    # predictive interval (function variance + the new point's noise) must cover
    # fresh observations about 95 % of the time.
    rng = np.random.default_rng(7)
    truth = lambda w: 0.003 - 0.002 * w + 0.004 * np.sqrt(w)  # noqa: E731
    noise = np.geomspace(1e-4, 1e-3, X_TRAIN.size) ** 2
    new = np.array([0.33, 0.9, 1.4])
    noise_new = np.full(new.size, 5e-4**2)
    hits = {"ols": [], "blr": []}
    for _ in range(100):
        y = truth(X_TRAIN) + rng.normal(0, np.sqrt(noise))
        y_new = truth(new) + rng.normal(0, np.sqrt(noise_new))
        for name, fit in (
            ("ols", fit_ols(X_TRAIN, y, noise, new, TERMS)),
            ("blr", fit_blr(X_TRAIN, y, noise, new, TERMS)),
        ):
            z = (y_new - fit.mean) / np.sqrt(fit.variance + noise_new)
            hits[name].extend(np.abs(z) < norm.ppf(0.975))
    for name, hit in hits.items():
        assert 0.91 < np.mean(hit) < 0.99, name


# ---------------------------------------------------------------------- ridge


def test_ridge_on_features_and_cv_alpha_is_the_loo_minimum():
    y = np.sin(2 * X_TRAIN) * 1e-3
    terms = ["1", "omega", "omega^2", "1/omega"]
    X = design_matrix(X_TRAIN, terms)
    fit = fit_residuals({"kind": "ridge", "features": terms, "alpha": 0.01}, X_TRAIN, y,
                        np.full(9, 1e-12), X_TRAIN)  # fmt: skip
    np.testing.assert_allclose(fit.mean, X @ ridge_weights(X, y, 0.01), rtol=1e-9)

    alphas = np.logspace(-8, 1, 19)

    def press(alpha):  # closed-form leave-one-out residuals e_i / (1 - H_ii)
        H = X @ np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1]), X.T)
        return np.sum(((y - H @ y) / (1 - np.diag(H))) ** 2)

    best = alphas[np.argmin([press(a) for a in alphas])]
    assert ridge_cv_alpha(X, y, alphas) == pytest.approx(best)
    cv = fit_residuals({"kind": "ridge", "features": terms, "alpha": "cv"}, X_TRAIN, y,
                       np.full(9, 1e-12), X_TRAIN)  # fmt: skip
    assert cv.hyper["alpha"] > 0 and np.isfinite(cv.log_evidence)


# ---------------------------------------------------------------------- lasso


def test_lasso_selects_the_true_term_and_approaches_ols_at_small_alpha():
    rng = np.random.default_rng(4)
    x = np.linspace(0.2, 1.5, 12)
    terms = ["1", "omega", "omega^2", "omega^3", "1/omega"]
    y = 2e-3 / x + rng.normal(0, 1e-5, x.size)
    fit = fit_lasso(x, y, np.full(x.size, 1e-10), x, terms, alpha="cv")
    assert "1/omega" in fit.hyper["selected"] and len(fit.hyper["selected"]) <= 3
    assert np.max(np.abs(fit.mean - y)) < 2e-4 and np.all(fit.variance > 0)
    assert np.isnan(fit.log_evidence)
    tiny = fit_lasso(x, y, np.full(x.size, 1e-10), x, ["1", "omega", "1/omega"], alpha=1e-9)
    ols = fit_ols(x, y, np.full(x.size, 1e-10), x, ["1", "omega", "1/omega"])
    np.testing.assert_allclose(tiny.mean, ols.mean, atol=1e-8)


# ------------------------------------------------------------------------ BLR


def test_blr_posterior_is_the_conjugate_closed_form():
    rng = np.random.default_rng(5)
    X = design_matrix(X_TRAIN, TERMS)
    noise = np.geomspace(1e-3, 1e-2, X_TRAIN.size)
    y = X @ np.array([0.1, -0.2, 0.3]) + rng.normal(0, np.sqrt(noise))
    mean, cov, log_ev = blr_posterior(X, y, noise, alpha=2.0)
    S_inv = 2.0 * np.eye(3) + X.T @ np.diag(1 / noise) @ X
    np.testing.assert_allclose(cov, np.linalg.inv(S_inv), rtol=1e-10)
    np.testing.assert_allclose(mean, np.linalg.solve(S_inv, X.T @ (y / noise)), rtol=1e-10)
    marginal = multivariate_normal(np.zeros(9), np.diag(noise) + X @ X.T / 2.0)
    assert log_ev == pytest.approx(marginal.logpdf(y), rel=1e-10)


def test_blr_one_parameter_posterior_by_hand():
    # y_i = w + e_i, e_i ~ N(0, s^2), w ~ N(0, 1/alpha): precision alpha + m/s^2.
    y, s2, alpha = np.array([1.0, 1.4, 0.9, 1.1]), 0.25, 0.5
    mean, cov, _ = blr_posterior(np.ones((4, 1)), y, np.full(4, s2), alpha)
    assert cov[0, 0] == pytest.approx(1 / (alpha + 4 / s2))
    assert mean[0] == pytest.approx(y.sum() / s2 / (alpha + 4 / s2))


def test_fit_blr_fixed_prior_evidence_is_the_marginal_density():
    rng = np.random.default_rng(6)
    noise = np.full(X_TRAIN.size, 1e-6)
    y = 1e-3 * (1 + X_TRAIN) + rng.normal(0, 1e-3, X_TRAIN.size)
    fit = fit_blr(X_TRAIN, y, noise, X_TRAIN, TERMS, prior_precision=3.0, extra_noise=False)
    X = design_matrix(X_TRAIN, TERMS)
    Phi, scale = X / np.sqrt(np.mean(X**2, axis=0)), np.std(y)
    cov = np.diag(noise) + scale**2 * Phi @ Phi.T / 3.0
    assert fit.log_evidence == pytest.approx(multivariate_normal(np.zeros(9), cov).logpdf(y))
    assert fit.hyper["excess_var"] == 0.0


def test_fit_blr_evidence_is_maximised_and_finds_the_scatter():
    rng = np.random.default_rng(8)
    x = np.linspace(0.2, 1.5, 30)
    y = 1e-3 * x + rng.normal(0, 1e-3, x.size)  # scatter 1e-3 behind error bars of 1e-5
    fit = fit_blr(x, y, np.full(x.size, 1e-10), x, ["1", "omega"])
    assert 0.4e-6 < fit.hyper["excess_var"] < 2.5e-6
    for factor in (0.5, 2.0):
        other = fit_blr(x, y, np.full(x.size, 1e-10), x, ["1", "omega"],
                        prior_precision=factor * fit.hyper["prior_precision"])  # fmt: skip
        assert other.log_evidence <= fit.log_evidence + 1e-6


# ------------------------------------------------------------------------- GP


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_gp_kernel_fits_on_both_inputs(kernel):
    y = 0.01 * np.exp(-X_TRAIN) + np.random.default_rng(9).normal(0, 1e-5, X_TRAIN.size)
    grid = np.linspace(0.25, 1.45, 7)
    for input_ in ("linear", "log"):
        fit = fit_residuals({"kind": "gp", "kernel": kernel, "input": input_}, X_TRAIN, y,
                            np.full(9, 1e-10), grid)  # fmt: skip
        assert np.max(np.abs(fit.mean - 0.01 * np.exp(-grid))) < 3e-4
        assert np.all(fit.variance > 0) and np.isfinite(fit.log_evidence)
        assert fit.hyper["input"] == input_


# ------------------------------------------------------------------------ LOO


def test_leave_one_out_of_ols_is_the_press_residual():
    from nqsflow.fit import leave_one_out

    rng = np.random.default_rng(10)
    y = 0.01 * X_TRAIN + rng.normal(0, 1e-3, X_TRAIN.size)
    mean, variance = leave_one_out({"kind": "ols", "features": TERMS}, X_TRAIN, y,
                                   np.full(X_TRAIN.size, 1e-8))  # fmt: skip
    X = design_matrix(X_TRAIN, TERMS)
    H = X @ np.linalg.solve(X.T @ X, X.T)
    np.testing.assert_allclose(y - mean, (y - H @ y) / (1 - np.diag(H)), rtol=1e-7)
    assert np.all(variance > 0)
    # Too few points left for the method: NaN, not an error.
    mean, _ = leave_one_out({"kind": "ols", "features": TERMS}, X_TRAIN[:3], y[:3], np.ones(3))
    assert np.all(np.isnan(mean))


# ------------------------------------------------------------------- registry


def test_study_schema_follows_the_method_and_kernel_registries(study_config):
    from nqsflow.config import _schemas, check_study
    from nqsflow.fit.models import METHODS

    branches = _schemas()["study"]["$defs"]["fit_method"]["oneOf"]
    assert [b["properties"]["kind"]["const"] for b in branches] == list(METHODS)
    gp = next(b for b in branches if b["properties"]["kind"]["const"] == "gp")
    assert gp["properties"]["kernel"]["enum"] == list(KERNELS)
    study_config["fit"]["methods"]["gp"]["kernel"] = "periodic"
    with pytest.raises(ConfigError, match="key 'fit.methods.gp.kernel': 'periodic' is not one of"):
        check_study(study_config)
    study_config["fit"]["methods"]["gp"] = {"kind": "spline"}
    with pytest.raises(ConfigError, match="key 'fit.methods.gp.kind': 'spline' is not one of"):
        check_study(study_config)
