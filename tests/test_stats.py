"""Error bars of correlated means against processes with a known variance of the mean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from nqsflow.stats import (
    autocovariance_sums,
    blocking_error,
    correlated_mean,
    integrated_autocorrelation,
    reduced_autocorrelation,
)


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


def _ar1_chains(phi, rounds, walkers, rng):
    """(rounds, walkers) stationary AR(1) chains x_t = phi x_{t-1} + N(0, 1)."""
    start = rng.standard_normal(walkers) / np.sqrt(1 - phi**2)
    noise = rng.standard_normal((rounds, walkers))
    return lfilter([1.0], [1.0, -phi], noise, axis=0, zi=phi * start[None, :])[0]


def _exact_error(phi, rounds, walkers):
    # variance of the mean of W stationary AR(1) chains of length R:
    # sum_{|t|<R} (1 - |t|/R) C(t) / (W R), C(t) = phi^|t| / (1 - phi^2)
    t = np.arange(1 - rounds, rounds)
    c = phi ** np.abs(t) / (1 - phi**2)
    return np.sqrt(np.sum((1 - np.abs(t) / rounds) * c) / (walkers * rounds))


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
@pytest.mark.parametrize(("rounds", "walkers"), [(2**18, 1), (500, 500)])
def test_ar1_integrated_autocorrelation_time_and_error(phi, rounds, walkers):
    x = _ar1_chains(phi, rounds, walkers, np.random.default_rng(3))
    result = correlated_mean(x)
    tau = (1 + phi) / (1 - phi)  # of an infinite chain; these are >> tau long
    # the estimate of tau scatters by sqrt(2 (2M + 1) / n) ~ 3 % at phi = 0.8
    assert result.tau == pytest.approx(tau, rel=0.09)
    assert result.error == pytest.approx(_exact_error(phi, rounds, walkers), rel=0.05)
    assert result.ess == pytest.approx(x.size / result.tau)
    assert result.mean == pytest.approx(x.mean(), abs=1e-15)
    assert result.window >= 5.0 * result.tau - 2


def test_chains_shorter_than_tau_still_get_the_variance_of_their_mean():
    # 10 rounds of chains with tau = 19: the window cannot close, yet the variance of
    # the mean of W independent chains is a sum over lags below R only
    phi, rounds, walkers = 0.9, 10, 4000
    result = correlated_mean(_ar1_chains(phi, rounds, walkers, np.random.default_rng(4)))
    assert result.error == pytest.approx(_exact_error(phi, rounds, walkers), rel=0.04)
    assert result.window == rounds - 1 and result.tau < 19


def test_rank_sums_reduce_to_the_serial_estimate():
    # what MPI ranks do: each sums its own walkers about the global mean, then one sum
    x = _ar1_chains(0.6, 300, 90, np.random.default_rng(5))
    whole = correlated_mean(x)
    parts = sum(autocovariance_sums(x[:, k::3], whole.mean) for k in range(3))
    split = integrated_autocorrelation(parts, x.shape[1], whole.mean)
    assert split.error == pytest.approx(whole.error, rel=1e-12)
    assert (split.tau, split.window) == pytest.approx((whole.tau, whole.window), rel=1e-12)


def test_constant_chains_and_too_few_samples():
    result = correlated_mean(np.full((50, 4), 2.5))
    assert (result.error, result.variance, result.tau, result.ess) == (0.0, 0.0, 1.0, 200.0)
    assert np.isfinite(correlated_mean(np.array([[1.0, 2.0]])).error)  # one round
    with pytest.raises(ValueError):
        correlated_mean(np.array([[1.0]]))


@pytest.mark.parametrize(
    ("phi", "rounds", "walkers"), [(0.3, 400, 50), (0.97, 3000, 4), (0.5, 5000, 1)]
)
def test_lags_summed_as_needed_give_the_full_estimate(phi, rounds, walkers):
    # phi = 0.97 (tau about 66) needs the window to grow past the first 32 lags
    x = _ar1_chains(phi, rounds, walkers, np.random.default_rng(8))
    full = correlated_mean(x)
    parts = [x[:, k::2] for k in range(2)] if walkers > 1 else [x]
    calls = []

    def reduce(local):  # the sum over two "ranks" of the lags this rank summed
        calls.append(local.size)
        return sum(autocovariance_sums(p, full.mean, local.size - 1 if local.size < rounds
                                       else None) for p in parts)  # fmt: skip

    grown = reduced_autocorrelation(parts[0], full.mean, walkers, reduce)
    assert grown.window == full.window and grown.tau == pytest.approx(full.tau, rel=1e-10)
    assert grown.error == pytest.approx(full.error, rel=1e-10)
    assert (calls[0] == 33) and (len(calls) > 1) == (full.window > 32)
