"""Trial wave functions: factors of ln psi with analytic derivatives, batched over walkers.

A factor is one class holding the maths of one term of ln psi; a
:class:`ProductAnsatz` adds the logs of several factors.  Every factor gives,
for parameters ``p`` (1-D array) and positions ``x`` of shape (W, N, d):

- ``log_psi(p, x)`` -> (W,)
- ``grad_lap(p, x)`` -> gradient of ln psi in the coordinates (W, N, d) and its
  Laplacian summed over all coordinates (W,)
- ``param_grad(p, x)`` -> d ln psi / d p, shape (W, P)

Lengths are in oscillator units: widths scale with ``1/sqrt(omega)`` so that the
same initial parameters suit every trap frequency.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from nqsflow.errors import ConfigError
from nqsflow.vmc.hamiltonians import HarmonicTrap, pair_distances


class Factor(ABC):
    """One factor of the trial wave function (one additive term of ln psi)."""

    kind: str

    @property
    @abstractmethod
    def n_params(self) -> int: ...

    @abstractmethod
    def initial_params(self, rng: np.random.Generator) -> np.ndarray: ...

    @abstractmethod
    def param_names(self) -> list[str]: ...

    @abstractmethod
    def log_psi(self, p: np.ndarray, x: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def grad_lap(self, p: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def param_grad(self, p: np.ndarray, x: np.ndarray) -> np.ndarray: ...


class Gaussian(Factor):
    """ln psi = -alpha omega sum_i r_i^2 / 2; alpha = 1 is exact without interaction."""

    kind = "gaussian"

    def __init__(self, omega: float, alpha: float = 1.0):
        self.omega = float(omega)
        self.alpha0 = float(alpha)

    n_params = 1

    def initial_params(self, rng):
        return np.array([self.alpha0])

    def param_names(self):
        return ["alpha"]

    def log_psi(self, p, x):
        return -0.5 * p[0] * self.omega * np.einsum("wnd,wnd->w", x, x)

    def grad_lap(self, p, x):
        a = p[0] * self.omega
        lap = np.full(x.shape[0], -a * x.shape[1] * x.shape[2])
        return -a * x, lap

    def param_grad(self, p, x):
        return (-0.5 * self.omega * np.einsum("wnd,wnd->w", x, x))[:, None]


class PadeJastrow(Factor):
    """ln psi = sum_{i<j} a r_ij / (1 + beta r_ij), beta = exp(p[0]).

    The cusp ``a`` = 1/(d-1) satisfies Kato's condition for two electrons of
    opposite spin in d = 2, 3; beta is optimised in log form so it stays positive.
    """

    kind = "pade_jastrow"

    def __init__(self, dim: int, beta: float = 0.5, cusp: float | None = None):
        if cusp is None:
            if dim < 2:
                raise ConfigError("pade_jastrow needs dim >= 2 for its Coulomb cusp")
            cusp = 1.0 / (dim - 1)
        self.cusp = float(cusp)
        self.beta0 = float(beta)

    n_params = 1

    def initial_params(self, rng):
        return np.array([np.log(self.beta0)])

    def param_names(self):
        return ["log_beta"]

    def log_psi(self, p, x):
        _, r = pair_distances(x)
        r = np.where(np.isinf(r), 0.0, r)
        u = self.cusp * r / (1.0 + np.exp(p[0]) * r)
        return 0.5 * u.sum(axis=(1, 2))

    def grad_lap(self, p, x):
        diff, r = pair_distances(x)
        beta = np.exp(p[0])
        q = 1.0 + beta * r
        du = self.cusp / q**2  # u'(r); 0 on the diagonal since r = inf there
        d2u = -2.0 * self.cusp * beta / q**3
        grad = np.einsum("wij,wijd->wid", du / r, diff)
        # each unordered pair contributes twice [u'' + (d-1) u'/r]; the full matrix
        # counts it twice already
        lap = np.sum(d2u + (x.shape[2] - 1) * du / r, axis=(1, 2))
        return grad, lap

    def param_grad(self, p, x):
        _, r = pair_distances(x)
        beta = np.exp(p[0])
        r = np.where(np.isinf(r), 0.0, r)
        # d/d(ln beta) of a r/(1 + beta r) = -a beta r^2 / (1 + beta r)^2
        term = -self.cusp * beta * r**2 / (1.0 + beta * r) ** 2
        return 0.5 * term.sum(axis=(1, 2))[:, None]


class RBM(Factor):
    """Gaussian-binary restricted Boltzmann machine (the seed's notation).

    psi(x) = exp(-sum_i (x_i - a_i)^2 / (2 sigma^2))
             * prod_j (1 + exp(b_j + sum_i x_i W_ij / sigma^2))
    over the M = N d visible coordinates and H hidden units.  ``sigma`` is given in
    oscillator units: the width used is sigma / sqrt(omega), exact at W = 0, a = 0
    for non-interacting particles when sigma = 1.
    """

    kind = "rbm"

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

    @property
    def n_params(self):
        return self.visible + self.hidden + self.visible * self.hidden

    def initial_params(self, rng):
        return rng.normal(0.0, self.init_std, self.n_params) if self.init_std else np.zeros(
            self.n_params
        )

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

    def _hidden_field(self, b, w, v):
        return b + v @ w / self.sigma2

    def log_psi(self, p, x):
        a, b, w = self._unpack(p)
        v = x.reshape(x.shape[0], -1)
        z = self._hidden_field(b, w, v)
        return -np.sum((v - a) ** 2, axis=1) / (2 * self.sigma2) + np.logaddexp(0.0, z).sum(1)

    def grad_lap(self, p, x):
        a, b, w = self._unpack(p)
        v = x.reshape(x.shape[0], -1)
        s = expit(self._hidden_field(b, w, v))
        grad = -(v - a) / self.sigma2 + s @ w.T / self.sigma2
        # d^2/dv_i^2 softplus(z_j) = s_j (1 - s_j) W_ij^2 / sigma^4
        lap = -self.visible / self.sigma2 + (s * (1.0 - s)) @ np.sum(w**2, axis=0) / self.sigma2**2
        return grad.reshape(x.shape), lap

    def param_grad(self, p, x):
        a, b, w = self._unpack(p)
        v = x.reshape(x.shape[0], -1)
        s = expit(self._hidden_field(b, w, v))
        d_w = (v[:, :, None] * s[:, None, :]).reshape(v.shape[0], -1) / self.sigma2
        return np.concatenate([(v - a) / self.sigma2, s, d_w], axis=1)


class ProductAnsatz:
    """A product of factors: ln psi is the sum of their logs, parameters concatenated."""

    def __init__(self, factors: Sequence[Factor]):
        if not factors:
            raise ConfigError("an ansatz needs at least one factor")
        self.factors = list(factors)
        bounds = np.cumsum([0] + [f.n_params for f in self.factors])
        self._slices = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        self.n_params = int(bounds[-1])

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Starting parameters (the RBM draws its weights from ``rng``)."""
        return np.concatenate([f.initial_params(rng) for f in self.factors])

    def param_names(self) -> list[str]:
        """Names like ``gaussian.alpha`` or ``rbm.W[0,1]``, in parameter order."""
        return [f"{f.kind}.{n}" for f in self.factors for n in f.param_names()]

    def log_psi(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        """ln psi of each walker, shape (W,)."""
        return sum(f.log_psi(p[s], x) for f, s in zip(self.factors, self._slices, strict=True))

    def grad_lap(self, p: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient (W, N, d) and total Laplacian (W,) of ln psi in the coordinates."""
        grad = np.zeros_like(x)
        lap = np.zeros(x.shape[0])
        for f, s in zip(self.factors, self._slices, strict=True):
            g, l = f.grad_lap(p[s], x)
            grad += g
            lap += l
        return grad, lap

    def grad_log_psi(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Gradient of ln psi in the coordinates, (W, N, d)."""
        return self.grad_lap(p, x)[0]

    def param_grad(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        """d ln psi / d p for each walker, shape (W, P)."""
        return np.concatenate(
            [f.param_grad(p[s], x) for f, s in zip(self.factors, self._slices, strict=True)],
            axis=1,
        )


def build_ansatz(spec: Sequence[Mapping[str, Any]], system: HarmonicTrap) -> ProductAnsatz:
    """The product ansatz described by a run spec's ``ansatz`` list."""
    factors: list[Factor] = []
    for item in spec:
        options = {k: v for k, v in item.items() if k != "kind"}
        kind = item["kind"]
        if kind == "gaussian":
            factors.append(Gaussian(system.omega, **options))
        elif kind == "pade_jastrow":
            factors.append(PadeJastrow(system.dim, **options))
        elif kind == "rbm":
            factors.append(RBM(system.particles, system.dim, system.omega, **options))
        else:
            raise ConfigError(f"ansatz: unknown factor kind {kind!r}")
    return ProductAnsatz(factors)
