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



def spin_channels(like_pairs) -> tuple[list[str], np.ndarray]:
    """The spin channels that occur among the pairs and each pair's channel index.

    ``like_pairs`` (P,) flags like-spin pairs (geometry order).  Channels are
    listed ``unlike`` before ``like``, only those with pairs; with no pairs at
    all, ``["unlike"]`` (a factor keeps one idle parameter).  Returns the names
    and the (P,) index of each pair's channel in that list.
    """
    like = np.asarray(like_pairs, dtype=bool)
    names = [c for c, flag in (("unlike", False), ("like", True)) if np.any(like == flag)]
    names = names or ["unlike"]
    index = np.where(like, names.index("like") if "like" in names else 0, 0)
    return names, index.astype(int)
