"""Trial wave functions: products of factors with analytic derivatives, batched over walkers.

The factor classes live in their own modules (``gaussian``, ``jastrow``,
``rbm``) and register themselves by kind (:mod:`factor`); a
:class:`ProductAnsatz` adds the logs of several.  Lengths are in oscillator
units: widths scale with ``1/sqrt(omega)``, so the same initial parameters suit
every trap frequency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.vmc.backflow import SlaterBackflow
from nqsflow.vmc.factor import FACTORS, Factor
from nqsflow.vmc.gaussian import Gaussian
from nqsflow.vmc.geometry import pair_vectors
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.jastrow import HardSphereJastrow, PadeJastrow, PairJastrow
from nqsflow.vmc.neural_jastrow import NeuralJastrow
from nqsflow.vmc.rbm import RBM
from nqsflow.vmc.slater import Slater

__all__ = [
    "FACTORS",
    "Factor",
    "Gaussian",
    "HardSphereJastrow",
    "NeuralJastrow",
    "PadeJastrow",
    "PairJastrow",
    "ProductAnsatz",
    "RBM",
    "Slater",
    "SlaterBackflow",
    "build_ansatz",
]


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

    def _summed(self, method: str, p, x, pairs) -> tuple[np.ndarray, ...]:
        # every factor's terms, added term by term (ln psi, gradient, Laplacian)
        pairs = pairs if pairs is not None else self.pairs(x)
        terms = [getattr(f, method)(q, x, pairs) for f, q in self._parts(p)]
        return tuple(sum(column) for column in zip(*terms, strict=True))

    def log_psi_grad(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        """ln psi (W,) and its coordinate gradient (W, N, d)."""
        return self._summed("log_psi_grad", p, x, pairs)

    def grad_lap(self, p, x, pairs=None) -> tuple[np.ndarray, np.ndarray]:
        """Gradient (W, N, d) and total Laplacian (W,) of ln psi in the coordinates."""
        return self._summed("grad_lap", p, x, pairs)

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

    def sign(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Sign of psi at each walker (W,); ln|psi| is what :meth:`log_psi` gives."""
        out = np.ones(x.shape[0])
        for f, q in self._parts(p):
            if f.antisymmetric:
                out = out * f.sign(q, x)
        return out

    # single-particle moves: the factors' caches in a list, in factor order

    def init_cache(self, p, x) -> list:
        """Every factor's per-walker cache at ``x``."""
        return [f.init_cache(q, x) for f, q in self._parts(p)]

    def grad_particle(self, p, x, cache: list, k: int) -> np.ndarray:
        """d ln|psi| / d x_k at ``x`` (W, d)."""
        return sum(
            f.grad_particle(q, x, c, k) for (f, q), c in zip(self._parts(p), cache, strict=True)
        )

    def propose(self, p, x, cache: list, k: int, xk: np.ndarray):
        """ln|psi(x')/psi(x)| (W,), d ln|psi(x')| / d x_k (W, d) and the factors' data."""
        dlog, grad, data = 0.0, 0.0, []
        for (f, q), c in zip(self._parts(p), cache, strict=True):
            d, g, extra = f.propose(q, x, c, k, xk)
            dlog, grad = dlog + d, grad + g
            data.append(extra)
        return dlog, grad, data

    def accept(self, p, x, cache: list, k: int, xk, accepted: np.ndarray, data: list) -> list:
        """Every factor's cache after the accepted moves of particle k."""
        return [
            f.accept(q, x, c, k, xk, accepted, extra)
            for (f, q), c, extra in zip(self._parts(p), cache, data, strict=True)
        ]


def build_ansatz(spec: Sequence[Mapping[str, Any]], system: HarmonicTrap) -> ProductAnsatz:
    """The product ansatz described by a run spec's ``ansatz`` list."""
    factors: list[Factor] = []
    for item in spec:
        options = {k: v for k, v in item.items() if k != "kind"}
        if item["kind"] not in FACTORS:
            raise ConfigError(f"ansatz: unknown factor kind {item['kind']!r}")
        factors.append(FACTORS[item["kind"]].from_spec(system, **options))
    if system.fermions and max(system.spins) > 1 and not any(f.antisymmetric for f in factors):
        raise ConfigError(
            f"ansatz: {system.particles} fermions with spins {list(system.spins)} need an "
            "antisymmetric factor (kind: slater); this product is symmetric"
        )
    if system.interaction == "hard_sphere" and not any(
        isinstance(f, HardSphereJastrow) for f in factors
    ):
        raise ConfigError(
            "ansatz: a hard_sphere interaction needs a hard_sphere_jastrow factor "
            "(the wave function must vanish inside the core)"
        )
    return ProductAnsatz(factors)
