"""BMA weightings (evidence, stacking), mixture scores, and their degenerate cases."""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from nqsflow.artifacts import read_artifact
from nqsflow.bma import (
    evidence_weights,
    mixture_interval,
    pointwise_log_densities,
    run_bma,
    score,
    score_mixture,
    stacking_objective,
    stacking_weights,
)
from nqsflow.errors import ConfigError

from .synthetic import bma_study
from .test_bma import write_fit, write_reference

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


# ------------------------------------------------------------------- evidence


def test_evidence_weights_are_the_posterior_model_probabilities():
    w = evidence_weights([10.0, 9.0, -1e6], ["a", "b", "c"])
    assert w[0] / w[1] == pytest.approx(math.e) and w[2] == 0.0 and w.sum() == pytest.approx(1)
    with pytest.raises(ConfigError, match="b/ols, c/lasso have none"):
        evidence_weights([1.0, np.nan, np.nan], ["a/gp", "b/ols", "c/lasso"])


# ------------------------------------------------------------------- stacking


def test_stacking_beats_every_point_of_a_grid_over_the_simplex():
    rng = np.random.default_rng(1)
    logp = rng.normal(-2.0, 1.5, size=(3, 8))
    w = stacking_weights(logp)
    assert w.sum() == pytest.approx(1.0) and np.all(w >= 0)
    best = max(
        stacking_objective(logp, [a, b, max(0.0, 1 - a - b)])
        for a, b in itertools.product(np.linspace(0, 1, 101), repeat=2)
        if a + b <= 1
    )
    assert stacking_objective(logp, w) >= best - 1e-9


def test_stacking_mixes_complementary_models_where_bma_picks_one():
    # Model 0 explains the first half of the points, model 1 the second half.
    good, bad = -1.0, -8.0
    logp = np.array([[good] * 4 + [bad] * 4, [bad] * 4 + [good] * 4])
    np.testing.assert_allclose(stacking_weights(logp), [0.5, 0.5], atol=1e-6)
    logp[1, :] -= 0.5  # model 1 a little worse everywhere: still needed for half the points
    w = stacking_weights(logp)
    assert 0.4 < w[1] < 0.5


def test_stacking_degenerate_cases_never_give_nan():
    np.testing.assert_array_equal(stacking_weights([[-3.0, -1.0]]), [1.0])
    np.testing.assert_allclose(stacking_weights(np.full((3, 5), -2.0)), [1 / 3] * 3)
    # Underflowing densities: log space keeps the answer exact.
    w = stacking_weights(np.array([[-1e5, -1e5], [-1e5 - 50.0, -1e5 - 50.0]]))
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-12)
    assert stacking_weights(np.array([[-np.inf, -1.0], [-2.0, -np.inf]])).sum() == 1.0
    with pytest.warns(UserWarning, match="no test points"):
        np.testing.assert_allclose(stacking_weights(np.zeros((2, 0))), [0.5, 0.5])
    with pytest.warns(UserWarning, match="zero density under every model"):
        w = stacking_weights(np.array([[-np.inf, -1.0], [-np.inf, -3.0]]))
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="NaN"):
        stacking_weights([[0.0, np.nan]])


# --------------------------------------------------------------------- scores


def test_single_model_mixture_is_the_gaussian_score():
    exact = np.array([1.0, 2.0, 3.0])
    mean, var = np.array([1.05, 2.3, 2.7]), np.array([0.01, 0.04, 0.01])
    single = score(exact, mean, var)
    assert single.coverage68 == pytest.approx(1 / 3)  # |z| = 0.5, 1.5, 3
    assert single.coverage95 == pytest.approx(2 / 3)
    mix = score_mixture(exact, [mean, mean], [var, var], [0.3, 0.7])
    for a, b in zip(single.__dict__.values(), mix.__dict__.values(), strict=True):
        assert a == pytest.approx(b)


def test_mixture_density_and_quantiles_by_hand():
    means, variances, w = np.array([[0.0], [3.0]]), np.array([[1.0], [0.25]]), [0.6, 0.4]
    s = score_mixture([0.5], means, variances, w)
    density = 0.6 * norm.pdf(0.5, 0, 1) + 0.4 * norm.pdf(0.5, 3, 0.5)
    assert s.mlpd == pytest.approx(math.log(density))
    assert s.rmse == pytest.approx(abs(0.5 - 1.2))
    lo, hi = mixture_interval(means, variances, np.array(w), 0.95)
    cdf = lambda q: 0.6 * norm.cdf(q, 0, 1) + 0.4 * norm.cdf(q, 3, 0.5)  # noqa: E731
    assert (cdf(lo[0]), cdf(hi[0])) == (pytest.approx(0.025), pytest.approx(0.975))


# ---------------------------------------------------------------------- stage


@pytest.fixture(scope="module")
def config():
    """The default study, weighing by the test points only."""
    return bma_study()


def three_fits(config, folder, evidence=3.0):
    return [
        write_fit(config, folder / "a.h5", "rbm/gp", bias=0.0005, std=2e-3),
        write_fit(config, folder / "b.h5", "rbm/ridge", bias=0.05, std=2e-3),
        write_fit(config, folder / "c.h5", "gauss-pade/gp", bias=0.0, std=0.5),
    ]


@pytest.mark.parametrize("weighting", ["evidence", "stacking"])
def test_run_bma_with_each_weighting(config, tmp_path, weighting):
    ref = write_reference(config, tmp_path / "reference.h5")
    fits = three_fits(config, tmp_path)
    study = {**config, "bma": {"weights": weighting}}
    tree = read_artifact(run_bma(study, ref, fits, tmp_path / "bma.h5"), schema="nqsflow.bma/1")
    w = tree["models"]["weight"]
    assert tree["models"]["@attrs"]["weights"] == weighting
    assert w.sum() == pytest.approx(1.0) and not np.any(np.isnan(w))
    if weighting == "evidence":  # every synthetic fit has log evidence 3.0
        np.testing.assert_allclose(w, [1 / 3] * 3)
    else:
        assert w[0] > 0.9
    scores = tree["scores"]
    assert scores["coverage68"].shape == (4,) and np.all(scores["coverage68"] <= 1)


def test_evidence_weighting_refuses_models_without_evidence(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    fits = three_fits(config, tmp_path)
    ols = write_fit(config, tmp_path / "d.h5", "rbm-pade/ols", bias=0.0, std=1e-3)
    tree = read_artifact(ols)
    assert tree["model"]["@attrs"]["log_evidence"] == 3.0  # write_fit's default; make it NaN
    from nqsflow.artifacts import write_artifact

    tree["model"]["@attrs"]["log_evidence"] = float("nan")
    write_artifact(ols, {k: v for k, v in tree.items() if k != "@attrs"}, tree["@attrs"])
    study = {**config, "bma": {"weights": "evidence"}}
    with pytest.raises(ConfigError, match="rbm-pade/ols have none"):
        run_bma(study, ref, [*fits, ols], tmp_path / "bma.h5")
    assert not (tmp_path / "bma.h5").exists()


def test_identical_models_share_the_weight_under_every_weighting(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    fits = [write_fit(config, tmp_path / f"{k}.h5", f"rbm/m{k}", 1e-3, 2e-3) for k in range(3)]
    for weighting in ("predictive", "evidence", "stacking"):
        study = {**config, "bma": {"weights": weighting}}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tree = read_artifact(run_bma(study, ref, fits, tmp_path / f"{weighting}.h5"))
        np.testing.assert_allclose(tree["models"]["weight"], [1 / 3] * 3, rtol=1e-9)
        scores = tree["scores"]
        for key in ("rmse", "mlpd", "coverage68", "coverage95"):
            assert scores[key][-1] == pytest.approx(scores[key][0])  # BMA = any one of them


def test_no_test_points_gives_equal_weights_with_a_warning(config, tmp_path):
    study = {**config, "design": {**config["design"], "test": []}, "bma": {"weights": "stacking"}}
    ref = write_reference(study, tmp_path / "reference.h5")
    fits = three_fits(study, tmp_path)
    with pytest.warns(UserWarning, match="no test points"):
        tree = read_artifact(run_bma(study, ref, fits, tmp_path / "bma.h5"))
    np.testing.assert_allclose(tree["models"]["weight"], [1 / 3] * 3)


def test_pointwise_densities_sum_to_the_predictive_likelihood():
    obs, err = np.array([1.0, 2.0]), np.array([0.1, 0.2])
    means, var = np.array([[1.1, 1.9], [0.5, 2.5]]), np.full((2, 2), 0.01)
    logp = pointwise_log_densities(obs, err, means, var)
    assert logp.shape == (2, 2)
    assert logp[0, 0] == pytest.approx(norm.logpdf(1.0, 1.1, math.sqrt(0.02)))


def test_loo_densities_join_the_test_points(config, tmp_path):
    from nqsflow.fit import run_fit

    from .synthetic import gather
    from .test_bma import write_vmc

    ref = write_reference(config, tmp_path / "reference.h5", noise=5e-4)
    fits = []
    for ansatz, offset in {"rbm": (0.05, 0.03), "gauss-pade": (0.01, 0.02)}.items():
        vmc = write_vmc(config, tmp_path / "vmc", ansatz, offset)
        for method in ("gp", "ridge"):
            out = tmp_path / "fit" / ansatz / f"{method}.h5"
            theory = gather(config, ref, ansatz, vmc, tmp_path)
            fits.append(run_fit(config, ansatz, method, ref, theory, out))
    tree = read_artifact(fits[0])
    train = tree["points"]["role"] == "train"
    assert np.all(np.isfinite(tree["loo"]["mean"][train]))
    assert np.all(np.isnan(tree["loo"]["mean"][~train]))
    study = {**config, "bma": {"weights": "stacking", "loo": True}}
    bma = read_artifact(run_bma(study, ref, fits, tmp_path / "bma.h5"))
    models = bma["models"]
    assert np.all(np.isfinite(models["loo_log_likelihood"]))
    assert models["weight"].sum() == pytest.approx(1.0)
    # A fit without LOO predictions (an older artifact) is named.
    from nqsflow.artifacts import write_artifact

    del tree["loo"]
    write_artifact(fits[0], {k: v for k, v in tree.items() if k != "@attrs"}, tree["@attrs"])
    with pytest.raises(ConfigError, match="rbm/gp have no leave-one-out"):
        run_bma(study, ref, fits, tmp_path / "bma2.h5")
