"""Trial wave functions: factors of ln psi with analytic derivatives, batched over walkers.

A factor is one class holding the maths of one term of ln psi; a
:class:`ProductAnsatz` adds the logs of several factors.  For parameters ``p``
(1-D array) and positions ``x`` of shape (W, N, d) every factor gives

- ``log_psi(p, x)`` -> (W,)
- ``log_psi_grad(p, x)`` -> ln psi (W,) and its coordinate gradient (W, N, d)
- ``grad_lap(p, x)`` -> the gradient and the Laplacian summed over all coordinates (W,)
- ``param_grad(p, x)`` -> d ln psi / d p, shape (W, P)
- ``local_terms(p, x)`` -> gradient, Laplacian and parameter gradient in one pass

Pair factors also accept ``pairs=(diff, r)`` from :func:`geometry.pair_vectors`
so a product computes the pair geometry once.  Lengths are in oscillator units:
widths scale with ``1/sqrt(omega)``, so the same initial parameters suit every
trap frequency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from nqsflow.errors import ConfigError
from nqsflow.vmc.geometry import pair_vectors, scatter
from nqsflow.vmc.hamiltonians import HarmonicTrap

FACTORS: dict[str, type[Factor]] = {}  # kind -> class, filled as factor classes are defined

POSITIVE = {"type": "number", "exclusiveMinimum": 0}


class Factor:
    """One factor of the trial wave function (one additive term of ln psi).

    A subclass with a ``kind`` registers itself: run specs name it by that kind,
    ``options`` is the JSON schema of its keyword options, and ``from_spec``
    builds it for a Hamiltonian.  Nothing else needs to change for a new ansatz.
    """

    kind = ""
    options: dict[str, dict] = {}
    uses_pairs = False
    n_params = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            FACTORS[cls.kind] = cls

    @classmethod
    def from_spec(cls, system: HarmonicTrap, **options) -> Factor:
        """The factor for ``system`` with a run spec's options."""
        raise NotImplementedError

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Starting parameters."""
        return np.zeros(0)

    def param_names(self) -> list[str]:
        """Names of the parameters, in order."""
        return []

    def log_psi(self, p, x, pairs=None) -> np.ndarray:
        raise NotImplementedError

    def grad_lap(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def param_grad(self, p, x, pairs=None) -> np.ndarray:
        return np.zeros((x.shape[0], 0))

    def log_psi_grad(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        return self.log_psi(p, x, pairs), self.grad_lap(p, x, pairs)[0]

    def local_terms(self, p, x, pairs=None):
        grad, lap = self.grad_lap(p, x, pairs)
        return grad, lap, self.param_grad(p, x, pairs)


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
        return -np.sum((v - a) ** 2, axis=1) / (2 * self.sigma2) + np.logaddexp(0.0, z).sum(1)

    def _grad(self, a, w, v, s, shape):
        return ((s @ w.T - (v - a)) / self.sigma2).reshape(shape)

    def log_psi_grad(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        log_psi = -np.sum((v - a) ** 2, axis=1) / (2 * self.sigma2) + np.logaddexp(0.0, z).sum(1)
        return log_psi, self._grad(a, w, v, expit(z), x.shape)

    def _lap(self, w, s):
        # d^2/dv_i^2 softplus(z_j) = s_j (1 - s_j) W_ij^2 / sigma^4
        curvature = (s * (1.0 - s)) @ np.sum(w * w, axis=0)
        return -self.visible / self.sigma2 + curvature / self.sigma2**2

    def _param_grad(self, a, v, s):
        d_w = (v[:, :, None] * s[:, None, :]).reshape(v.shape[0], -1) / self.sigma2
        return np.concatenate([(v - a) / self.sigma2, s, d_w], axis=1)

    def grad_lap(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        s = expit(z)
        return self._grad(a, w, v, s, x.shape), self._lap(w, s)

    def param_grad(self, p, x, pairs=None):
        a, _, v, z = self._field(p, x)
        return self._param_grad(a, v, expit(z))

    def local_terms(self, p, x, pairs=None):
        a, w, v, z = self._field(p, x)
        s = expit(z)
        return self._grad(a, w, v, s, x.shape), self._lap(w, s), self._param_grad(a, v, s)


class ProductAnsatz:
    """A product of factors: ln psi is the sum of their logs, parameters concatenated."""

    def __init__(self, factors: Sequence[Factor]):
        if not factors:
            raise ConfigError("an ansatz needs at least one factor")
        self.factors = list(factors)
        bounds = np.cumsum([0] + [f.n_params for f in self.factors])
        self._slices = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        self.n_params = int(bounds[-1])
        self.uses_pairs = any(f.uses_pairs for f in self.factors)

    def _parts(self, p):
        return [(f, p[s]) for f, s in zip(self.factors, self._slices, strict=True)]

    def pairs(self, x):
        """Pair geometry of ``x`` if any factor needs it, else None."""
        return pair_vectors(x) if self.uses_pairs and x.shape[1] > 1 else None

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Starting parameters (the RBM draws its weights from ``rng``)."""
        return np.concatenate([f.initial_params(rng) for f in self.factors])

    def param_names(self) -> list[str]:
        """Names like ``gaussian.alpha`` or ``rbm.W[0,1]``, in parameter order."""
        return [f"{f.kind}.{n}" for f in self.factors for n in f.param_names()]

    def log_psi(self, p: np.ndarray, x: np.ndarray, pairs=None) -> np.ndarray:
        """ln psi of each walker, shape (W,)."""
        pairs = pairs if pairs is not None else self.pairs(x)
        return sum(f.log_psi(q, x, pairs) for f, q in self._parts(p))

    def log_psi_grad(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        """ln psi (W,) and its coordinate gradient (W, N, d)."""
        pairs = pairs if pairs is not None else self.pairs(x)
        log_psi, grad = 0.0, 0.0
        for f, q in self._parts(p):
            lp, g = f.log_psi_grad(q, x, pairs)
            log_psi, grad = log_psi + lp, grad + g
        return log_psi, grad

    def grad_lap(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        """Gradient (W, N, d) and total Laplacian (W,) of ln psi in the coordinates."""
        pairs = pairs if pairs is not None else self.pairs(x)
        grad, lap = 0.0, 0.0
        for f, q in self._parts(p):
            g, l = f.grad_lap(q, x, pairs)
            grad, lap = grad + g, lap + l
        return grad, lap

    def grad_log_psi(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Gradient of ln psi in the coordinates, (W, N, d)."""
        return self.grad_lap(p, x)[0]

    def param_grad(self, p: np.ndarray, x: np.ndarray, pairs=None) -> np.ndarray:
        """d ln psi / d p for each walker, shape (W, P)."""
        pairs = pairs if pairs is not None else self.pairs(x)
        return np.concatenate([f.param_grad(q, x, pairs) for f, q in self._parts(p)], axis=1)

    def local_terms(self, p, x, pairs=None):
        """Gradient, Laplacian and parameter gradient of ln psi at ``x`` in one pass."""
        pairs = pairs if pairs is not None else self.pairs(x)
        grad, lap, dp = 0.0, 0.0, []
        for f, q in self._parts(p):
            g, l, o = f.local_terms(q, x, pairs)
            grad, lap = grad + g, lap + l
            dp.append(o)
        return grad, lap, np.concatenate(dp, axis=1)


def build_ansatz(spec: Sequence[Mapping[str, Any]], system: HarmonicTrap) -> ProductAnsatz:
    """The product ansatz described by a run spec's ``ansatz`` list."""
    factors: list[Factor] = []
    for item in spec:
        options = {k: v for k, v in item.items() if k != "kind"}
        if item["kind"] not in FACTORS:
            raise ConfigError(f"ansatz: unknown factor kind {item['kind']!r}")
        factors.append(FACTORS[item["kind"]].from_spec(system, **options))
    if system.interaction == "hard_sphere" and not any(
        isinstance(f, HardSphereJastrow) for f in factors
    ):
        raise ConfigError(
            "ansatz: a hard_sphere interaction needs a hard_sphere_jastrow factor "
            "(the wave function must vanish inside the core)"
        )
    return ProductAnsatz(factors)
