"""Pair (Jastrow) factors: Pade-Jastrow with Kato's cusp per spin channel, and the hard sphere.

A move of particle k changes only its N - 1 pairs k-j, so the single-particle
protocol of :class:`PairJastrow` evaluates u on those pairs at the old and the
new position, O(N d) per walker, and keeps no cache: the gradient of particle
k comes from the same N - 1 pairs, so nothing drifts and nothing needs a refresh.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.vmc.factor import POSITIVE, Factor
from nqsflow.vmc.geometry import pair_indices, pair_vectors, scatter, spin_channels


@cache
def partners(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The particles j != k (N-1,) and the index of each pair {k, j} in geometry order (N-1,)."""
    i, j, _ = pair_indices(n)
    index = np.zeros((n, n), dtype=int)
    index[i, j] = index[j, i] = np.arange(i.size)
    others = np.delete(np.arange(n), k)
    return others, index[k, others]


def moved_pairs(x: np.ndarray, k: int, xk: np.ndarray, others=None):
    """x_k - x_j for particle k at ``xk`` (W, d): differences (W, N-1, d), distances (W, N-1),
    and the geometry-order pair indices (N-1,) of the pairs.  ``others``: x without
    particle k (W, N-1, d) when the caller has it already."""
    partner, index = partners(x.shape[1], k)
    if others is None:
        others = np.take(x, partner, axis=1)  # much faster than x[:, partner]
    diff = xk[:, None, :] - others
    return diff, np.sqrt(_squares(diff)), index


def _squares(v: np.ndarray) -> np.ndarray:
    # |v|^2 over the last (short) axis, one component at a time: faster than einsum for d <= 3
    out = v[..., 0] * v[..., 0]
    for a in range(1, v.shape[-1]):
        out += v[..., a] * v[..., a]
    return out


class PairJastrow(Factor):
    """ln psi = sum_{i<j} u(r_ij); subclasses give u, u' and u'' (and parameter derivatives).

    ``index`` (pair indices in geometry order) says which pairs the last axis of
    ``r`` holds when it is not all of them (a single-particle move), so u may
    depend on the pair (its spin channel).
    """

    uses_pairs = True

    def u(self, p, r, index=None):
        raise NotImplementedError

    def du(self, p, r, index=None) -> tuple[np.ndarray, np.ndarray]:
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

    # single-particle moves: only the pairs k-j, O(N d) per walker

    def _particle_grad(self, p, diff, r, index):
        d1 = self.du(p, r, index)[0]
        return np.matmul((d1 / r)[:, None, :], diff)[:, 0]  # sum_j; beats einsum here

    def grad_particle(self, p, x, cache, k):
        diff, r, index = moved_pairs(x, k, x[:, k])
        return self._particle_grad(p, diff, r, index)

    def propose(self, p, x, cache, k, xk):
        others = np.take(x, partners(x.shape[1], k)[0], axis=1)
        _, old_r, index = moved_pairs(x, k, x[:, k], others)
        diff, r, _ = moved_pairs(x, k, xk, others)
        new_u = self.u(p, r, index)
        with np.errstate(invalid="ignore", divide="ignore"):
            dlog = np.sum(new_u, axis=1) - np.sum(self.u(p, old_r, index), axis=1)
            grad = self._particle_grad(p, diff, r, index)
        # a proposal inside a hard core has dlog = -inf (rejected); keep its gradient finite
        # so that a Green's function built from it cannot turn -inf into NaN
        grad[~np.isfinite(dlog)] = 0.0
        return dlog, grad, None


class PadeJastrow(PairJastrow):
    """u(r) = a r / (1 + beta r) per spin channel, beta = exp(p[c]) of the pair's channel c.

    Electrons (``like_pairs`` given, one flag per pair in geometry order) get
    Kato's cusp: a = 1/(d-1) for unlike spins and 1/(d+1) for like spins, and
    one beta per channel that occurs (``log_beta_unlike``, ``log_beta_like``;
    a single channel, e.g. two electrons of opposite spin, has one ``log_beta``).
    Bosons (``like_pairs`` None) have one channel with a = ``cusp``, default
    1/(d-1).  beta is optimised in log form so it stays positive.
    """

    kind = "pade_jastrow"
    options = {
        "beta": POSITIVE,
        "beta_like": POSITIVE,
        "beta_unlike": POSITIVE,
        "cusp": {"type": "number"},
    }

    @classmethod
    def from_spec(cls, system, **options):
        like = system.like_spin_pairs if system.spins is not None else None
        return cls(system.dim, like_pairs=like, **options)

    def __init__(
        self,
        dim: int,
        beta: float = 0.5,
        cusp: float | None = None,
        *,
        like_pairs=None,
        beta_like: float | None = None,
        beta_unlike: float | None = None,
    ):
        if dim < 2 and (cusp is None or like_pairs is not None):
            raise ConfigError("pade_jastrow needs dim >= 2 for its Coulomb cusp")
        if like_pairs is None:
            if beta_like is not None or beta_unlike is not None:
                raise ConfigError("pade_jastrow.beta_like/beta_unlike need a system with spins")
            cusps = [1.0 / (dim - 1) if cusp is None else float(cusp)]
            betas, names, channel = [beta], ["log_beta"], None
        else:
            if cusp is not None:
                raise ConfigError(
                    "pade_jastrow.cusp is for bosons only: electrons get Kato's cusp per spin pair"
                )
            like = np.asarray(like_pairs, dtype=bool)
            table = {  # channel -> (cusp, initial beta)
                "unlike": (1.0 / (dim - 1), beta if beta_unlike is None else beta_unlike),
                "like": (1.0 / (dim + 1), beta if beta_like is None else beta_like),
            }
            present, index = spin_channels(like)
            cusps = [table[c][0] for c in present]
            betas = [table[c][1] for c in present]
            names = ["log_beta"] if len(present) == 1 else [f"log_beta_{c}" for c in present]
            channel = index if len(present) == 2 else None
        self.n_params = len(cusps)
        self.beta0 = np.array(betas, dtype=float)
        self._names = names
        # one channel keeps scalars: the numbers of the spin-free code, bit for bit
        self.cusp = cusps[0] if channel is None else np.array(cusps)[channel]
        self._channel = channel  # (P,) channel of each pair, or None for a single channel

    def initial_params(self, rng):
        return np.array([np.log(b) for b in self.beta0.tolist()])  # scalar logs, as ever

    def param_names(self):
        return list(self._names)

    def _coefficients(self, p, index):
        # cusp and beta of each pair on the last axis of r (scalars for one channel)
        if self._channel is None:
            return self.cusp, np.exp(p[0])
        sel = slice(None) if index is None else index
        return self.cusp[sel], np.exp(p)[self._channel[sel]]

    def u(self, p, r, index=None):
        a, beta = self._coefficients(p, index)
        return a * r / (1.0 + beta * r)

    def du(self, p, r, index=None):
        a, beta = self._coefficients(p, index)
        q = 1.0 / (1.0 + beta * r)
        d1 = a * q * q
        return d1, -2.0 * beta * d1 * q

    def param_grad(self, p, x, pairs=None):
        _, r = pairs if pairs is not None else pair_vectors(x)
        a, beta = self._coefficients(p, None)
        # d/d(ln beta) of a r/(1 + beta r) = -a beta r^2 / (1 + beta r)^2
        terms = -a * beta * (r / (1.0 + beta * r)) ** 2
        if self._channel is None:
            return np.sum(terms, axis=1)[:, None]
        return np.stack([terms[:, self._channel == c].sum(1) for c in range(self.n_params)], 1)


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

    def u(self, p, r, index=None):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > self.radius, np.log1p(-self.radius / r), -np.inf)

    def du(self, p, r, index=None):
        a = self.radius
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = a / (r * (r - a))
            d2 = -a * (2.0 * r - a) / (r * (r - a)) ** 2
        return d1, d2
