"""Error bars of correlated Monte Carlo averages.

:func:`correlated_mean` (with its two halves :func:`autocovariance_sums` and
:func:`integrated_autocorrelation`, which a parallel run joins by one sum over
ranks) is what VMC production reports: the integrated autocorrelation time of
each walker's own chain, averaged over the walkers, summed up to Sokal's
self-consistent window (A. Sokal, "Monte Carlo methods in statistical
mechanics", Cargese lectures 1996, sec. 3).  Every walker contributes to every
lag, so tau is well determined even when each chain is only a few hundred rounds
long, where blocking of the walker average has too few blocks to find its
plateau; weighted as in the variance of the mean of finite chains, the error is
right even for chains shorter than tau.

:func:`blocking_error` is the automatic blocking method of M. Jonsson,
Phys. Rev. E 98, 043304 (2018): the series is halved by pairwise averaging
until the test statistic M_k no longer exceeds the chi-square quantile, which
picks the level whose variance estimate is free of autocorrelation.  It needs a
long series (thousands of entries) for the test to have power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

# Sokal's window factor: the sum stops at the first lag M >= WINDOW_FACTOR * tau(M).
# Sokal's range is 4-10; 5 leaves a truncation bias exp(-5) for an exponential
# decay while the noise of the sum grows like sqrt(M) (as emcee's default).
WINDOW_FACTOR = 5.0
# entries of one batch of walker transforms: bounds the FFT's memory to about 16 MB
FFT_ENTRIES = 1 << 20


@dataclass(frozen=True)
class BlockingResult:
    """Mean of a series, its standard error, and the blocking level used."""

    mean: float
    error: float
    level: int
    n: int


@dataclass(frozen=True)
class CorrelatedMean:
    """Mean of W Markov chains, its standard error and what the error rests on.

    ``tau`` = n var(mean) / variance, in steps of the chains (rounds): the
    integrated autocorrelation time for chains much longer than it, less for
    chains too short to see all of it (their mean is less correlated).  ``ess`` =
    n / tau the effective number of independent samples, ``window`` the lag at
    which the sum stopped, ``variance`` that of one sample; error = sqrt(variance
    / ess).
    """

    mean: float
    error: float
    variance: float
    tau: float
    ess: float
    window: int
    n: int


def autocovariance_sums(chains: np.ndarray, mean: float, max_lag: int | None = None) -> np.ndarray:
    """Sums over walkers and times of (x_s - mean)(x_{s+t} - mean), for t = 0..R-1.

    ``chains`` is (R, W): R rounds of W independent walkers.  ``mean`` is the
    mean over all walkers (of all ranks): centring on it, not on each walker's
    own mean, keeps short chains from losing their correlation to the centring.
    Sums of disjoint walker sets add, so ranks reduce these with one sum.  With
    ``max_lag`` only the lags 0..max_lag are summed, directly: a few passes over
    the samples, cheaper than the transforms of all R lags when tau is short.
    """
    x = np.asarray(chains, dtype=float)
    rounds = x.shape[0]
    x = x.reshape(rounds, -1)
    deviation = x - mean
    if max_lag is not None and max_lag < rounds - 1:
        sums = np.empty(max_lag + 1)
        for t in range(max_lag + 1):
            sums[t] = np.einsum("rw,rw->", deviation[: rounds - t], deviation[t:])
        return sums
    sums = np.zeros(rounds)
    size = 1 << int(np.ceil(np.log2(max(2 * rounds - 1, 1))))  # zero-padded: no wrap-around
    columns = max(1, FFT_ENTRIES // size)
    for first in range(0, x.shape[1], columns):
        spectrum = np.fft.rfft(deviation[:, first : first + columns], n=size, axis=0)
        power = (spectrum.real**2 + spectrum.imag**2).sum(axis=1)
        sums += np.fft.irfft(power, n=size)[:rounds]
    # lag 0 directly: exactly zero for a constant series, where the FFT leaves round-off
    sums[0] = np.einsum("rw,rw->", deviation, deviation)
    return sums


def reduced_autocorrelation(
    chains: np.ndarray,
    mean: float,
    walkers: int,
    reduce=lambda a: a,
    first_lags: int = 32,
    window_factor: float = WINDOW_FACTOR,
) -> CorrelatedMean:
    """:func:`integrated_autocorrelation` of chains spread over ranks, lags summed as needed.

    ``chains`` (R, w) are this rank's walkers, ``walkers`` those of all ranks and
    ``reduce`` the sum over ranks (identity when serial).  The first ``first_lags``
    lags are summed directly; while Sokal's window has not closed within them,
    four times as many, up to all R by transforms.  Every rank takes the same
    decisions, since they rest on reduced sums.
    """
    rounds = np.asarray(chains).shape[0]
    lags = first_lags
    while True:
        max_lag = lags if lags < rounds - 1 else None
        sums = reduce(autocovariance_sums(chains, mean, max_lag))
        estimate = integrated_autocorrelation(sums, walkers, mean, window_factor, rounds)
        if estimate is not None:
            return estimate
        lags *= 4


def integrated_autocorrelation(
    sums: np.ndarray,
    walkers: int,
    mean: float = float("nan"),
    window_factor: float = WINDOW_FACTOR,
    rounds: int | None = None,
) -> CorrelatedMean | None:
    """Error of the mean of ``walkers`` chains from their :func:`autocovariance_sums`.

    With C(t) = sums[t] / (W (R - t)), tau(M) = 1 + 2 sum_{0<t<=M} C(t)/C(0) and M
    the smallest lag with M >= window_factor * tau(M) (at most R - 1, and n/4 for
    a single chain).  The variance of the mean of W independent stationary chains
    of length R is sum_{|t|<R} (1 - |t|/R) C(t) / (W R), exact however short the
    chains, so it is summed with those weights up to M.  Centring on the
    estimated mean lowers every C(t) by about var(mean); dividing by one minus
    the summed weights over n undoes that (for M = 0 it is the familiar n - 1).

    ``sums`` may stop short of lag R - 1 (``rounds`` = R then gives the chain
    length); when the window has not closed within them the answer is ``None``.
    """
    sums = np.asarray(sums, dtype=float)
    rounds = sums.size if rounds is None else int(rounds)
    walkers = int(walkers)
    n = rounds * walkers
    if n < 2:
        raise ValueError("an error bar needs at least two samples")
    variance = float(sums[0] / n)
    if sums[0] <= 0.0:  # a constant series (an exact eigenstate): no error
        return CorrelatedMean(mean, 0.0, 0.0, 1.0, float(n), 0, n)
    lags = np.arange(sums.size)
    c = sums / (walkers * (rounds - lags))
    # a single chain's last lags rest on few pairs: keep the window well inside it
    last = min(rounds - 1, (n - 2) // 4) if walkers == 1 else rounds - 1
    known = min(last, sums.size - 1)
    tau_m = 1.0 + 2.0 * np.cumsum(c[1 : known + 1]) / c[0]  # tau(M) for M = 1..known
    closed = np.flatnonzero(lags[1 : known + 1] >= window_factor * tau_m)
    if not closed.size and known < last:
        return None  # the window lies beyond the lags summed
    window = int(closed[0]) + 1 if closed.size else last
    weighted = sums[0] + 2.0 * sums[1 : window + 1].sum()  # n * sum (1 - |t|/R) C(t)
    weights = 1.0 + 2.0 * np.sum(1.0 - lags[1 : window + 1] / rounds)
    var_mean = max(weighted, 0.0) / n**2 / (1.0 - weights / n)
    tau = var_mean * n / variance
    ess = n / tau if tau > 0 else float("inf")
    return CorrelatedMean(mean, float(np.sqrt(var_mean)), variance, float(tau), float(ess),
                          window, n)  # fmt: skip


def correlated_mean(chains: np.ndarray, window_factor: float = WINDOW_FACTOR) -> CorrelatedMean:
    """Mean of (R, W) chains of W independent walkers and its autocorrelation-aware error."""
    x = np.asarray(chains, dtype=float)
    x = x.reshape(x.shape[0], -1)
    mean = float(x.mean())
    sums = autocovariance_sums(x, mean)
    return integrated_autocorrelation(sums, x.shape[1], mean, window_factor)


def blocking_error(series: np.ndarray) -> BlockingResult:
    """Standard error of the mean of a stationary, correlated 1-D series.

    Odd lengths drop the last element at each halving, so any length >= 2 works.
    """
    x = np.asarray(series, dtype=float).ravel()
    n_total = x.size
    if n_total < 2:
        raise ValueError("blocking needs at least two samples")
    mean = float(x.mean())
    variances, lag1, sizes = [], [], []
    while x.size >= 2:
        n = x.size
        centred = x - x.mean()
        variances.append(np.dot(centred, centred) / n)
        lag1.append(np.dot(centred[:-1], centred[1:]) / n)
        sizes.append(n)
        x = x[: n - n % 2]
        x = 0.5 * (x[0::2] + x[1::2])
    variances = np.asarray(variances)
    lag1 = np.asarray(lag1)
    sizes = np.asarray(sizes)
    if np.all(variances == 0.0):
        return BlockingResult(mean, 0.0, 0, n_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = sizes * ((sizes - 1) * variances / sizes**2 + lag1) ** 2 / variances**2
    terms = np.nan_to_num(terms)
    # M_k = sum of the terms from level k to the last
    statistic = np.cumsum(terms[::-1])[::-1]
    quantiles = chi2.ppf(0.99, df=np.arange(1, len(sizes) + 1))[::-1]
    level = len(sizes) - 1
    for k in range(len(sizes)):
        if statistic[k] < quantiles[k]:
            level = k
            break
    error = float(np.sqrt(variances[level] / sizes[level]))
    return BlockingResult(mean, error, int(level), n_total)
