"""Chebyshev-Gauss-Lobatto collocation: the nodes and the differentiation matrix."""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def chebyshev(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Lobatto points ``t`` in [-1, 1] (descending) and the differentiation matrix."""
    k = np.arange(nodes + 1)
    t = np.cos(np.pi * k / nodes)
    c = np.where((k == 0) | (k == nodes), 2.0, 1.0) * (-1.0) ** k
    dt = t[:, None] - t[None, :]
    d = np.outer(c, 1 / c) / (dt + np.eye(nodes + 1))
    d -= np.diag(d.sum(axis=1))
    t.flags.writeable = d.flags.writeable = False
    return t, d
