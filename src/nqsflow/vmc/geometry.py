"""Pair geometry of batched configurations, shared by Hamiltonians and Jastrow factors.

Pairs are the unordered ``i < j`` pairs of N particles; a walker batch
``x`` of shape (W, N, d) gives differences (W, P, d) and distances (W, P),
P = N (N - 1) / 2.  ``scatter`` maps a per-pair vector field back to the
particles: particle i gets +v_ij, particle j gets -v_ij.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(I, J)`` of the pairs i < j and the (N, P) incidence matrix (+1 at i, -1 at j)."""
    i, j = np.triu_indices(n, 1)
    incidence = np.zeros((n, i.size))
    incidence[i, np.arange(i.size)] = 1.0
    incidence[j, np.arange(i.size)] = -1.0
    return i, j, incidence


def pair_vectors(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences ``x_i - x_j`` (W, P, d) and distances (W, P) over pairs i < j."""
    i, j, _ = pair_indices(x.shape[1])
    if i.size == 1:  # two particles: plain slicing beats fancy indexing
        diff = x[:, :1] - x[:, 1:2]
    else:
        diff = x[:, i] - x[:, j]
    r = np.sqrt(np.einsum("wpd,wpd->wp", diff, diff))
    return diff, r


def scatter(pair_field: np.ndarray, n: int) -> np.ndarray:
    """Per-particle sum of a per-pair field (W, P, d) -> (W, N, d), antisymmetric in the pair."""
    if n == 2:
        return np.concatenate([pair_field, -pair_field], axis=1)
    _, _, incidence = pair_indices(n)
    return np.einsum("np,wpd->wnd", incidence, pair_field)

