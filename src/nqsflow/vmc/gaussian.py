"""The Gaussian one-body factor, isotropic or elliptic.

A single-particle move touches one particle's term only: O(d) per walker, no cache.
"""

from __future__ import annotations

import numpy as np

from nqsflow.vmc.factor import POSITIVE, Factor


class Gaussian(Factor):
    """ln psi = -(alpha omega / 2) sum_i (r_perp,i^2 + beta z_i^2).

    Without ``beta`` the trap is isotropic (one parameter, alpha = 1 exact);
    with ``beta`` it is a parameter too (alpha = 1, beta = lambda exact in an
    elliptic trap).  z is the last axis.
    """

    kind = "gaussian"
    options = {"alpha": POSITIVE, "beta": POSITIVE}

    @classmethod
    def from_spec(cls, system, **options):
        return cls(system.omega, **options)

    def __init__(self, omega: float, alpha: float = 1.0, beta: float | None = None):
        self.omega = float(omega)
        self.alpha0 = float(alpha)
        self.beta0 = None if beta is None else float(beta)
        self.n_params = 1 if beta is None else 2

    def initial_params(self, rng):
        return np.array([self.alpha0] if self.beta0 is None else [self.alpha0, self.beta0])

    def param_names(self):
        return ["alpha"] if self.beta0 is None else ["alpha", "beta"]

    def _squares(self, p, x):
        # sum over particles of r_perp^2 and z^2 (W,)
        if self.n_params == 1:
            return np.einsum("wnd,wnd->w", x, x), None
        z2 = np.einsum("wn,wn->w", x[..., -1], x[..., -1])
        return np.einsum("wnd,wnd->w", x, x) - z2, z2

    def log_psi(self, p, x, pairs=None):
        perp2, z2 = self._squares(p, x)
        if z2 is not None:
            perp2 = perp2 + p[1] * z2
        return -0.5 * p[0] * self.omega * perp2

    def grad_lap(self, p, x, pairs=None):
        a = p[0] * self.omega
        n, d = x.shape[1], x.shape[2]
        if self.n_params == 1:
            return -a * x, np.full(x.shape[0], -a * n * d)
        scale = np.full(d, a)
        scale[-1] *= p[1]
        return -x * scale, np.full(x.shape[0], -a * n * (d - 1 + p[1]))

    def param_grad(self, p, x, pairs=None):
        perp2, z2 = self._squares(p, x)
        if z2 is None:
            return (-0.5 * self.omega * perp2)[:, None]
        return np.stack(
            [-0.5 * self.omega * (perp2 + p[1] * z2), -0.5 * p[0] * self.omega * z2], axis=1
        )

    def _scale(self, p, d):
        # d ln psi / d x = -scale * x per axis
        scale = np.full(d, p[0] * self.omega)
        if self.n_params == 2:
            scale[-1] *= p[1]
        return scale

    def grad_particle(self, p, x, cache, k):
        return -self._scale(p, x.shape[2]) * x[:, k]

    def propose(self, p, x, cache, k, xk):
        scale = self._scale(p, x.shape[2])
        old = x[:, k]
        dlog = -0.5 * np.einsum("wd,d->w", (xk - old) * (xk + old), scale)
        return dlog, -scale * xk, None
