"""Pair (Jastrow) factors: Pade-Jastrow with the Coulomb cusp, and the hard-sphere factor."""

from __future__ import annotations

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.vmc.factor import POSITIVE, Factor
from nqsflow.vmc.geometry import pair_vectors, scatter


class PairJastrow(Factor):
    """ln psi = sum_{i<j} u(r_ij); subclasses give u, u' and u'' (and parameter derivatives)."""

    uses_pairs = True

    def u(self, p, r):
        raise NotImplementedError

    def du(self, p, r) -> tuple[np.ndarray, np.ndarray]:
        """u'(r) and u''(r)."""
        raise NotImplementedError

    def log_psi(self, p, x, pairs=None):
        _, r = pairs if pairs is not None else pair_vectors(x)
        return np.sum(self.u(p, r), axis=1)

    def _grad_from(self, d1, diff, r, n):
        return scatter((d1 / r)[..., None] * diff, n)

    def grad_lap(self, p, x, pairs=None):
        diff, r = pairs if pairs is not None else pair_vectors(x)
        d1, d2 = self.du(p, r)
        grad = self._grad_from(d1, diff, r, x.shape[1])
        # nabla_i^2 + nabla_j^2 of u(r_ij) = 2 [u'' + (d - 1) u' / r]
        lap = 2.0 * np.sum(d2 + (x.shape[2] - 1) * d1 / r, axis=1)
        return grad, lap

    def log_psi_grad(self, p, x, pairs=None):
        diff, r = pairs if pairs is not None else pair_vectors(x)
        d1, _ = self.du(p, r)
        return np.sum(self.u(p, r), axis=1), self._grad_from(d1, diff, r, x.shape[1])


class PadeJastrow(PairJastrow):
    """u(r) = a r / (1 + beta r), beta = exp(p[0]).

    The cusp ``a`` = 1/(d-1) satisfies Kato's condition for two electrons of
    opposite spin in d = 2, 3; beta is optimised in log form so it stays positive.
    """

    kind = "pade_jastrow"
    options = {"beta": POSITIVE, "cusp": {"type": "number"}}
    n_params = 1

    @classmethod
    def from_spec(cls, system, **options):
        return cls(system.dim, **options)

    def __init__(self, dim: int, beta: float = 0.5, cusp: float | None = None):
        if cusp is None:
            if dim < 2:
                raise ConfigError("pade_jastrow needs dim >= 2 for its Coulomb cusp")
            cusp = 1.0 / (dim - 1)
        self.cusp = float(cusp)
        self.beta0 = float(beta)

    def initial_params(self, rng):
        return np.array([np.log(self.beta0)])

    def param_names(self):
        return ["log_beta"]

    def u(self, p, r):
        return self.cusp * r / (1.0 + np.exp(p[0]) * r)

    def du(self, p, r):
        beta = np.exp(p[0])
        q = 1.0 / (1.0 + beta * r)
        d1 = self.cusp * q * q
        return d1, -2.0 * beta * d1 * q

    def param_grad(self, p, x, pairs=None):
        _, r = pairs if pairs is not None else pair_vectors(x)
        beta = np.exp(p[0])
        # d/d(ln beta) of a r/(1 + beta r) = -a beta r^2 / (1 + beta r)^2
        return np.sum(-self.cusp * beta * (r / (1.0 + beta * r)) ** 2, axis=1)[:, None]


class HardSphereJastrow(PairJastrow):
    """u(r) = ln(1 - a/r) for r > a, and psi = 0 (ln psi = -inf) inside the hard core."""

    kind = "hard_sphere_jastrow"
    options = {"radius": POSITIVE}

    @classmethod
    def from_spec(cls, system, **options):
        return cls(options.get("radius", system.radius))

    def __init__(self, radius: float):
        if radius <= 0:
            raise ConfigError("hard_sphere_jastrow needs a positive radius")
        self.radius = float(radius)

    def u(self, p, r):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > self.radius, np.log1p(-self.radius / r), -np.inf)

    def du(self, p, r):
        a = self.radius
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = a / (r * (r - a))
            d2 = -a * (2.0 * r - a) / (r * (r - a)) ** 2
        return d1, d2
