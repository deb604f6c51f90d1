"""The Gaussian-binary restricted Boltzmann machine as a factor of psi.

Single-particle moves keep the hidden units' field z = b + v W / sigma^2 per
walker (with its sigmoid and the softplus sum): moving particle k changes z by
(x_k' - x_k) W_k / sigma^2, O(H d) per walker instead of the O(N d H) product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqsflow.vmc.factor import POSITIVE, Factor


def softplus_sigmoid(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln(1 + e^z) and 1/(1 + e^-z), stable for any z, from one exponential."""
    e = np.exp(-np.abs(z))
    inverse = 1.0 / (1.0 + e)
    return np.maximum(z, 0.0) + np.log1p(e), np.where(z >= 0, inverse, e * inverse)


@dataclass(frozen=True)
class RBMCache:
    """Per-walker state of single-particle moves; never modified in place.

    ``field``: z = b + v W / sigma^2 (W, H); ``sigmoid``: 1/(1 + e^-z) (W, H);
    ``softplus``: sum_j ln(1 + e^z_j) (W,).
    """

    field: np.ndarray
    sigmoid: np.ndarray
    softplus: np.ndarray


class RBM(Factor):
    """Gaussian-binary restricted Boltzmann machine (the seed's notation).

    psi(x) = exp(-sum_i (x_i - a_i)^2 / (2 sigma^2))
             * prod_j (1 + exp(b_j + sum_i x_i W_ij / sigma^2))
    over the M = N d visible coordinates and H hidden units.  ``sigma`` is given in
    oscillator units: the width used is sigma / sqrt(omega), exact at W = 0, a = 0
    for non-interacting particles in an isotropic trap when sigma = 1.
    """

    kind = "rbm"
    options = {
        "hidden": {"type": "integer", "minimum": 1},
        "sigma": POSITIVE,
        "init_std": {"type": "number", "minimum": 0},
    }

    @classmethod
    def from_spec(cls, system, **options):
        return cls(system.particles, system.dim, system.omega, **options)

    def __init__(
        self,
        particles: int,
        dim: int,
        omega: float,
        hidden: int = 4,
        sigma: float = 1.0,
        init_std: float = 0.05,
    ):
        self.visible = particles * dim
        self.hidden = int(hidden)
        self.sigma2 = sigma**2 / omega
        self.init_std = float(init_std)
        self.n_params = self.visible + self.hidden + self.visible * self.hidden

    def initial_params(self, rng):
        if not self.init_std:
            return np.zeros(self.n_params)
        return rng.normal(0.0, self.init_std, self.n_params)

    def param_names(self):
        m, h = self.visible, self.hidden
        return (
            [f"a[{i}]" for i in range(m)]
            + [f"b[{j}]" for j in range(h)]
            + [f"W[{i},{j}]" for i in range(m) for j in range(h)]
        )

    def _unpack(self, p):
        m, h = self.visible, self.hidden
        return p[:m], p[m : m + h], p[m + h :].reshape(m, h)

    def _field(self, p, x):
        a, b, w = self._unpack(p)
        v = x.reshape(x.shape[0], -1)
        return a, w, v, b + (v @ w) / self.sigma2

    def log_psi(self, p, x, pairs=None):
        a, _, v, z = self._field(p, x)
        return -np.sum((v - a) ** 2, axis=1) / (2 * self.sigma2) + softplus_sigmoid(z)[0].sum(1)

    def _grad(self, a, w, v, s, shape):
        return ((s @ w.T - (v - a)) / self.sigma2).reshape(shape)

    def log_psi_grad(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        softplus, s = softplus_sigmoid(z)
        log_psi = -np.sum((v - a) ** 2, axis=1) / (2 * self.sigma2) + softplus.sum(1)
        return log_psi, self._grad(a, w, v, s, x.shape)

    def _lap(self, w, s):
        # d^2/dv_i^2 softplus(z_j) = s_j (1 - s_j) W_ij^2 / sigma^4
        curvature = (s * (1.0 - s)) @ np.sum(w * w, axis=0)
        return -self.visible / self.sigma2 + curvature / self.sigma2**2

    def _param_grad(self, a, v, s):
        # filled in place: the (W, M H) weight block dominates and a concatenate copies it
        m, h = self.visible, self.hidden
        out = np.empty((v.shape[0], self.n_params))
        np.divide(v - a, self.sigma2, out=out[:, :m])
        out[:, m : m + h] = s
        d_w = out[:, m + h :].reshape(v.shape[0], m, h)  # a view: rows are contiguous
        np.multiply(v[:, :, None], s[:, None, :] / self.sigma2, out=d_w)
        return out

    def grad_lap(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        s = softplus_sigmoid(z)[1]
        return self._grad(a, w, v, s, x.shape), self._lap(w, s)

    def param_grad(self, p, x, pairs=None):
        a, _, v, z = self._field(p, x)
        return self._param_grad(a, v, softplus_sigmoid(z)[1])

    def local_terms(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        s = softplus_sigmoid(z)[1]
        return self._grad(a, w, v, s, x.shape), self._lap(w, s), self._param_grad(a, v, s)

    # single-particle moves: particle k owns the visible units k d, ..., k d + d - 1

    def _block(self, p, k, d):
        a, _, w = self._unpack(p)
        return a[k * d : (k + 1) * d], w[k * d : (k + 1) * d]

    def init_cache(self, p, x):
        z = self._field(p, x)[3]
        softplus, s = softplus_sigmoid(z)
        return RBMCache(z, s, softplus.sum(1))

    def grad_particle(self, p, x, cache: RBMCache, k):
        a_k, w_k = self._block(p, k, x.shape[2])
        return (cache.sigmoid @ w_k.T - (x[:, k] - a_k)) / self.sigma2

    def propose(self, p, x, cache: RBMCache, k, xk):
        a_k, w_k = self._block(p, k, x.shape[2])
        old = x[:, k]
        z = cache.field + ((xk - old) @ w_k) / self.sigma2
        softplus, s = softplus_sigmoid(z)
        softplus = softplus.sum(1)
        # |xk - a|^2 - |x_k - a|^2 = (xk - x_k) . (xk + x_k - 2a)
        gauss = np.einsum("wd,wd->w", xk - old, xk + old - 2.0 * a_k) / (2 * self.sigma2)
        dlog = softplus - cache.softplus - gauss
        grad = (s @ w_k.T - (xk - a_k)) / self.sigma2
        return dlog, grad, RBMCache(z, s, softplus)

    def accept(self, p, x, cache: RBMCache, k, xk, accepted, data: RBMCache):
        rows = accepted[:, None]
        return RBMCache(
            np.where(rows, data.field, cache.field),
            np.where(rows, data.sigmoid, cache.sigmoid),
            np.where(accepted, data.softplus, cache.softplus),
        )
