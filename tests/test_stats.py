"""Automatic blocking against processes with a known variance of the mean."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.stats import blocking_error


def _ar1(phi, n, rng):
    noise = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = noise[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x


def test_uncorrelated_series_keeps_the_naive_error():
    x = np.random.default_rng(0).standard_normal(2**14)
    result = blocking_error(x)
    assert result.error == pytest.approx(x.std() / np.sqrt(x.size), rel=0.1)


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ar1_error_matches_the_integrated_autocorrelation(phi):
    rng = np.random.default_rng(1)
    n = 2**16
    # exact variance of the mean of a stationary AR(1): sigma^2/n (1 + phi)/(1 - phi)
    exact = np.sqrt(1 / (1 - phi**2) / n * (1 + phi) / (1 - phi))
    errors = [blocking_error(_ar1(phi, n, rng)).error for _ in range(4)]
    assert np.mean(errors) == pytest.approx(exact, rel=0.15)
    assert blocking_error(_ar1(phi, n, rng)).level > 0


def test_odd_lengths_and_constant_series():
    assert blocking_error(np.full(1001, 2.5)).error == 0.0
    result = blocking_error(np.random.default_rng(2).standard_normal(1001))
    assert result.n == 1001 and np.isfinite(result.error)
    with pytest.raises(ValueError):
        blocking_error([1.0])
