"""Error bars of correlated Monte Carlo averages.

:func:`blocking_error` is the automatic blocking method of M. Jonsson,
Phys. Rev. E 98, 043304 (2018): the series is halved by pairwise averaging
until the test statistic M_k no longer exceeds the chi-square quantile, which
picks the level whose variance estimate is free of autocorrelation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2


@dataclass(frozen=True)
class BlockingResult:
    """Mean of a series, its standard error, and the blocking level used."""

    mean: float
    error: float
    level: int
    n: int


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
