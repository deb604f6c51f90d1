"""Tests of the BMA stage: weights in log space, averaging, scores and run_bma."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from nqsflow.artifacts import inputs_of, provenance, read_artifact, sha256, write_artifact
from nqsflow.bma import (
    Z95,
    average,
    bma_weights,
    predictive_log_likelihoods,
    run_bma,
    score,
)
from nqsflow.bma.__main__ import main as bma_main
from nqsflow.config import runspec_for, study_points
from nqsflow.errors import ArtifactError
from nqsflow.fit import run_fit

from . import synthetic
from .synthetic import bma_study, exact_energy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"


@pytest.fixture(scope="module")
def config():
    """The default study, weighing by the test points only."""
    return bma_study()


# the BMA tests weigh noisy observations
write_reference = functools.partial(synthetic.write_reference, noise=1e-3)


def write_fit(config, path, name, bias, std, points=None):
    """A synthetic fit artifact whose prediction is exact + bias with std ``std``."""
    pts = points or study_points(config)
    omega = np.array([p.omega for p in pts])
    n = omega.size
    ansatz, method = name.split("/")
    tree = {
        "points": {
            "name": np.array([p.name for p in pts]),
            "omega": omega,
            "role": np.array([p.role for p in pts]),
        },
        "theory": {"energy": exact_energy(omega) + 0.05, "energy_error": np.full(n, 1e-4)},
        "residual": {"mean": np.full(n, bias - 0.05), "variance": np.full(n, std**2 - 1e-8)},
        "prediction": {"mean": exact_energy(omega) + bias, "variance": np.full(n, std**2)},
        "model": {
            "@attrs": {"name": name, "ansatz": ansatz, "method": method, "log_evidence": 3.0}
        },
    }
    return write_artifact(path, tree, provenance("nqsflow.fit/1", {"ansatz": ansatz}))


# ------------------------------------------------------------------- weights


def test_weights_sum_to_one_and_follow_likelihoods():
    w = bma_weights([-1.0, -2.0, -3.5])
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert w[0] > w[1] > w[2] > 0
    assert w[0] / w[1] == pytest.approx(math.e)


def test_underflowing_model_gets_zero_weight_without_nan():
    w = bma_weights([-1e5, -3.0, -4.0])
    assert not np.any(np.isnan(w))
    assert w[0] == 0.0 and w.sum() == pytest.approx(1.0)
    # Every model underflows in linear space, yet the log-space weights are exact.
    w = bma_weights([-1e5, -1e5 - 1.0])
    np.testing.assert_allclose(w, [1 / (1 + math.exp(-1)), 1 / (1 + math.e)])
    np.testing.assert_array_equal(bma_weights([-np.inf, 0.0]), [0.0, 1.0])


def test_identical_and_single_models():
    np.testing.assert_allclose(bma_weights([-7.0, -7.0, -7.0]), [1 / 3] * 3)
    np.testing.assert_array_equal(bma_weights([-123.0]), [1.0])


def test_degenerate_likelihoods():
    with pytest.warns(UserWarning, match="zero likelihood"):
        np.testing.assert_allclose(bma_weights([-np.inf, -np.inf]), [0.5, 0.5])
    np.testing.assert_array_equal(bma_weights([np.inf, 0.0, np.inf]), [0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        bma_weights([0.0, np.nan])


def test_no_test_points_gives_equal_weights_with_warning():
    with pytest.warns(UserWarning, match="no test points"):
        ll = predictive_log_likelihoods([], [], np.zeros((3, 0)), np.ones((3, 0)))
    np.testing.assert_array_equal(ll, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(bma_weights(ll), [1 / 3] * 3)


def test_predictive_log_likelihood_adds_observation_noise():
    obs, err = np.array([1.0, 2.0]), np.array([0.3, 0.4])
    means = np.array([[1.0, 2.5]])
    var = np.array([[0.16, 0.09]])
    ll = predictive_log_likelihoods(obs, err, means, var)
    # Total variance is 0.25 at both points.
    expected = -math.log(2 * math.pi * 0.25) - 0.5 * 0.25 / 0.25
    assert ll[0] == pytest.approx(expected)


def test_average_splits_variance():
    means = np.array([[1.0, 2.0], [3.0, 2.0]])
    variances = np.array([[0.1, 0.2], [0.3, 0.4]])
    mean, var, within, between = average(means, variances, [0.25, 0.75])
    np.testing.assert_allclose(mean, [2.5, 2.0])
    np.testing.assert_allclose(within, [0.25, 0.35])
    np.testing.assert_allclose(between, [0.25 * 1.5**2 + 0.75 * 0.5**2, 0.0])
    np.testing.assert_allclose(var, within + between)
    # A model with weight 0 and an infinite variance does not poison the sums.
    mean, var, _, _ = average([[1.0], [5.0]], [[0.1], [np.inf]], [1.0, 0.0])
    assert (mean[0], var[0]) == (1.0, 0.1)


def test_scores_on_hand_computed_example():
    exact = np.array([1.0, 2.0, 3.0, 4.0])
    mean = np.array([1.1, 2.0, 2.5, 4.0])
    var = np.array([0.01, 0.01, 0.01, 0.04])
    s = score(exact, mean, var)
    assert s.rmse == pytest.approx(math.sqrt((0.01 + 0.25) / 4))
    assert s.coverage95 == 0.75  # only the 0.5 miss is outside 1.96 * 0.1
    lp = [
        -0.5 * (math.log(2 * math.pi * v) + (e - m) ** 2 / v)
        for e, m, v in zip(exact, mean, var, strict=True)
    ]
    assert s.mlpd == pytest.approx(sum(lp) / 4)
    # The error of the exact value widens the interval: the 0.5 miss is now covered.
    wide = score(exact, mean, var, exact_error=0.3)
    assert wide.coverage95 == 1.0 and wide.rmse == s.rmse
    assert Z95 == pytest.approx(1.959964, abs=1e-6)


# --------------------------------------------------------------------- stage


def test_run_bma_layout_weights_and_provenance(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    fits = [
        write_fit(config, tmp_path / "good.h5", "rbm/gp", bias=0.0005, std=2e-3),
        write_fit(config, tmp_path / "bad.h5", "rbm/ridge", bias=0.05, std=2e-3),
        write_fit(config, tmp_path / "wide.h5", "gauss-pade/gp", bias=0.0, std=0.5),
    ]
    out = run_bma(config, ref, fits, tmp_path / "bma.h5")
    tree = read_artifact(out, schema="nqsflow.bma/1")
    reference = read_artifact(ref)
    n, M = reference["points"]["omega"].size, 3
    for key in ("name", "omega", "role"):
        np.testing.assert_array_equal(tree["points"][key], reference["points"][key])
    np.testing.assert_array_equal(tree["exact"]["energy"], reference["exact"]["energy"])
    for key in ("energy", "energy_error"):
        np.testing.assert_array_equal(tree["observations"][key], reference["observations"][key])
    models = tree["models"]
    assert models["name"].tolist() == ["rbm/gp", "rbm/ridge", "gauss-pade/gp"]
    assert models["mean"].shape == models["variance"].shape == (M, n)
    for key in ("weight", "log_likelihood", "log_evidence"):
        assert models[key].shape == (M,)
    np.testing.assert_array_equal(models["log_evidence"], [3.0, 3.0, 3.0])
    w = models["weight"]
    assert w.sum() == pytest.approx(1.0) and w[0] > 0.9 and w[1] < 1e-6
    pred = tree["prediction"]
    for key in ("mean", "variance", "within", "between"):
        assert pred[key].shape == (n,)
    np.testing.assert_allclose(pred["variance"], pred["within"] + pred["between"])

    scores = tree["scores"]
    assert scores["@attrs"]["points"] == "target"
    assert scores["name"].tolist() == [*models["name"].tolist(), "BMA"]
    for key in ("rmse", "mlpd", "coverage95"):
        assert scores[key].shape == (M + 1,) and np.all(np.isfinite(scores[key]))
    assert scores["rmse"][0] == pytest.approx(0.0005)
    assert scores["rmse"][1] == pytest.approx(0.05)
    assert scores["rmse"][-1] < 0.01

    attrs = tree["@attrs"]
    assert attrs["schema"] == "nqsflow.bma/1"
    assert json.loads(attrs["config"])["bma"] == {"weights": "predictive", "loo": False}
    inputs = inputs_of(tree)
    assert [i["path"] for i in inputs] == [str(p) for p in [ref, *fits]]
    assert all(i["sha256"] == sha256(i["path"]) for i in inputs)


def test_fit_on_other_points_is_refused(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    good = write_fit(config, tmp_path / "good.h5", "rbm/gp", 0.0, 1e-3)
    short = write_fit(config, tmp_path / "short.h5", "rbm/ridge", 0.0, 1e-3,
                      points=study_points(config)[:-1])  # fmt: skip
    with pytest.raises(ArtifactError, match="points differ") as info:
        run_bma(config, ref, [good, short], tmp_path / "bma.h5")
    assert info.value.path == str(short)
    with pytest.raises(ArtifactError, match="given twice"):
        run_bma(config, ref, [good, good], tmp_path / "bma.h5")


def test_targets_are_scored_within_the_exact_error_not_the_observation_noise(config, tmp_path):
    # observations noisy by 1e-3, exact values known to 3e-5: a model predicting the
    # exact value with std 1e-4 must be scored with variance std^2 + 3e-5^2; widening by
    # the noise (the old scoring) gives it a log density lower by about 2.3
    noise, error, std = 1e-3, 3e-5, 1e-4
    ref = read_artifact(write_reference(config, tmp_path / "noisy.h5", noise=noise))
    exact = ref["exact"]["energy"]
    ref["exact"]["error"] = np.full(exact.size, error)
    ref_path = write_artifact(tmp_path / "reference.h5", {k: v for k, v in ref.items()
                              if k != "@attrs"}, ref["@attrs"])  # fmt: skip
    fit = write_fit(config, tmp_path / "sharp.h5", "rbm/gp", bias=0.0, std=std)
    tree = read_artifact(run_bma(config, ref_path, [fit], tmp_path / "bma.h5"))
    expected = -0.5 * math.log(2 * math.pi * (std**2 + error**2))
    np.testing.assert_allclose(tree["scores"]["mlpd"], [expected, expected], rtol=1e-12)
    # a reference without /exact/error scores against the model's variance alone
    plain = read_artifact(run_bma(config, write_reference(config, tmp_path / "r.h5", noise=noise),
                                  [fit], tmp_path / "bma2.h5"))  # fmt: skip
    np.testing.assert_allclose(plain["scores"]["mlpd"], -0.5 * math.log(2 * math.pi * std**2),
                               rtol=1e-12)  # fmt: skip


def write_vmc(config, folder, ansatz, offset):
    paths = []
    for p in study_points(config):
        spec = runspec_for(config, ansatz, p.name)
        e = float(exact_energy(p.omega) + offset[0] + offset[1] * p.omega)
        tree = {"estimate": {"@attrs": {"energy": e, "energy_error": 1e-4, "variance": 1e-3}}}
        attrs = provenance("nqsflow.vmc/1", spec, seed=spec["seed"])
        paths.append(write_artifact(Path(folder) / ansatz / f"{p.name}.h5", tree, attrs))
    return paths


def test_fit_then_bma_through_the_cli(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5", noise=5e-4)
    fits = []
    for ansatz, offset in {"rbm": (0.05, 0.03), "gauss-pade": (0.01, 0.02)}.items():
        vmc = write_vmc(config, tmp_path / "vmc", ansatz, offset)
        for method in config["fit"]["methods"]:
            out = tmp_path / "fit" / ansatz / f"{method}.h5"
            theory = synthetic.gather(config, ref, ansatz, vmc, tmp_path)
            fits.append(run_fit(config, ansatz, method, ref, theory, out))
    out = tmp_path / "bma.h5"
    argv = [str(CONFIG), "--reference", str(ref), "--fits", *map(str, fits), "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean study raises no warning
        assert bma_main(argv) == 0
    tree = read_artifact(out, schema="nqsflow.bma")
    assert tree["models"]["name"].tolist() == [
        "rbm/gp", "rbm/ridge", "gauss-pade/gp", "gauss-pade/ridge",
    ]  # fmt: skip
    assert tree["models"]["weight"].sum() == pytest.approx(1.0)
    assert tree["scores"]["rmse"][-1] < 5e-3


def test_cli_user_error_exits_2_with_one_line(config, tmp_path):
    ref = write_reference(config, tmp_path / "reference.h5")
    missing = tmp_path / "missing-fit.h5"
    cmd = [sys.executable, "-m", "nqsflow.bma", str(CONFIG), "--reference", str(ref)]
    cmd += ["--fits", str(missing), "--out", str(tmp_path / "bma.h5")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing-fit.h5" in lines[0]
    assert not (tmp_path / "bma.h5").exists()
