"""Central finite differences of ln psi, the reference for every analytic derivative test."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

H = 1e-4


def numerical_grad_lap(log_psi: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = H):
    """Gradient (W, N, d) and total Laplacian (W,) of ``log_psi`` at ``x``, central differences."""
    f0 = log_psi(x)
    grad, lap = np.zeros_like(x), np.zeros(x.shape[0])
    for i in range(x.shape[1]):
        for d in range(x.shape[2]):
            step = np.zeros_like(x)
            step[:, i, d] = h
            fp, fm = log_psi(x + step), log_psi(x - step)
            grad[:, i, d] = (fp - fm) / (2 * h)
            lap += (fp - 2 * f0 + fm) / h**2
    return grad, lap
