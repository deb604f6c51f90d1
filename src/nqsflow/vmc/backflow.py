"""A Slater determinant at backflow (quasi-particle) coordinates.

psi_BF = D_up(y) D_down(y) prod_i exp(-alpha omega |x_i|^2 / 2) with the orbitals'
polynomial parts P_j of :mod:`orbitals` (as in :mod:`slater`) evaluated at

    y_i = x_i + sum_{j != i} eta_c(r_ij^2) (x_i - x_j),
    eta_c(u) = sum_m a_cm / (1 + b_cm u / l^2)

(c: the pair's spin channel, like or unlike; l: the oscillator length).  eta is
the same for the pair ij and ji, so exchanging two like-spin electrons exchanges
their y and two rows of a determinant: psi stays antisymmetric, and its nodes
move with the other electrons (the Slater determinant's nodes are fixed by the
orbitals alone).  eta is a smooth function of r^2: no kink where electrons meet,
so Kato's cusps stay with the Jastrow factor.  The Gaussian stays at the bare
coordinates: it has no nodes, and a Jastrow carries the rest.  a = 0 (the
default start) is the plain Slater determinant, number for number.

Derivatives, exact and batched over walkers (G = grad_y ln|det P(y)|, B = P^-1
per spin, J = dy/dx the (N d x N d) backflow Jacobian with pair blocks
M_ij = eta I + 2 eta' r_ij r_ij^T):

- grad_x ln|D| = J^T G, i.e. G_k + sum_{j != k} M_kj (G_k - G_j)
- nabla_x^2 ln|D| = tr(H J J^T) + sum_i G_i . nabla^2 y_i, with H the y-Hessian
  of ln|det| (orbital Hessians and B, per spin block) and
  nabla^2 y_i = sum_{j != i} 2 [4 u eta'' + 2 (d + 2) eta'] r_ij
- d ln|D| / d theta = sum_i G_i . dy_i / d theta; alpha enters through
  sqrt(alpha omega) y as in :mod:`slater`.

The Jacobian and H are formed as (N d x N d) matrices per walker: for the
closed shells this code targets (N d <= 40) that is cheaper in numpy than any
loop.  A single-particle move changes every y_i, so moves re-evaluate the whole
determinant (O(N^3) per walker and move); the cache keeps ln|D| and its
gradient at the current positions, so nothing is evaluated twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqsflow.vmc.factor import POSITIVE, OnePassFactor
from nqsflow.vmc.geometry import pair_indices, pair_vectors, scatter, spin_channels
from nqsflow.vmc.orbitals import (
    HermiteOrbitals,
    check_fermion_trap,
    gaussian_envelope,
    hermite_table,
)


@dataclass(frozen=True)
class BackflowCache:
    """ln|psi| (W,) and its gradient (W, N, d) at the current positions."""

    log_psi: np.ndarray
    grad: np.ndarray


def orbital_hessians(orbitals: HermiteOrbitals, alpha: float, y: np.ndarray):
    """P_j, grad P_j and the Hessians of P_j at positions y (..., d).

    Shapes (..., count), (..., d, count), (..., d, d, count).
    """
    dim, top, q = orbitals.dim, orbitals.top, orbitals.quanta
    s = np.sqrt(alpha * orbitals.omega)
    n = np.arange(top + 1)
    h0 = hermite_table(s * y, top)  # (..., d, top + 1)
    h1 = np.zeros_like(h0)
    h2 = np.zeros_like(h0)
    h1[..., 1:] = s * 2.0 * n[1:] * h0[..., :-1]
    h2[..., 2:] = s * s * 4.0 * n[2:] * (n[2:] - 1) * h0[..., :-2]
    # per axis a, the factor of orbital j: (..., count)
    f0 = [h0[..., a, q[:, a]] for a in range(dim)]
    f1 = [h1[..., a, q[:, a]] for a in range(dim)]
    f2 = [h2[..., a, q[:, a]] for a in range(dim)]

    def product(chosen: dict[int, np.ndarray]) -> np.ndarray:
        out = None
        for a in range(dim):
            f = chosen.get(a, f0[a])
            out = f.copy() if out is None else out * f
        return out

    values = product({})
    grads = np.stack([product({a: f1[a]}) for a in range(dim)], axis=-2)
    hess = np.empty((*y.shape, dim, values.shape[-1]))
    for a in range(dim):
        hess[..., a, a, :] = product({a: f2[a]})
        for b in range(a + 1, dim):
            hess[..., a, b, :] = hess[..., b, a, :] = product({a: f1[a], b: f1[b]})
    return values, grads, hess


class SlaterBackflow(OnePassFactor):
    """Slater determinant (per spin, oscillator orbitals, width alpha) at backflow coordinates.

    Parameters: ``alpha``, then per spin channel (unlike, like) the amplitudes
    a_m and the log widths ln b_m of ``terms`` Pade terms of eta.  Options:
    ``alpha``; ``terms`` (default 1); ``width``: the first term's initial b (the
    m-th starts at width 4^m); ``eta_like``, ``eta_unlike``: the initial
    amplitudes of the first term (default 0: the plain determinant).
    """

    kind = "slater_backflow"
    options = {
        "alpha": POSITIVE,
        "terms": {"type": "integer", "minimum": 1},
        "width": POSITIVE,
        "eta_like": {"type": "number"},
        "eta_unlike": {"type": "number"},
    }
    antisymmetric = True
    uses_pairs = True

    @classmethod
    def from_spec(cls, system, **options):
        check_fermion_trap(system, cls.kind)
        return cls(system.spins, system.dim, system.omega, system.like_spin_pairs, **options)

    def __init__(
        self,
        spins: tuple[int, int],
        dim: int,
        omega: float,
        like_pairs,
        alpha: float = 1.0,
        terms: int = 1,
        width: float = 1.0,
        eta_like: float = 0.0,
        eta_unlike: float = 0.0,
    ):
        self.spins = tuple(int(n) for n in spins)
        self.dim = int(dim)
        self.omega = float(omega)
        self.alpha0 = float(alpha)
        self.terms = int(terms)
        self.orbitals = HermiteOrbitals(self.dim, max(self.spins), self.omega)
        starts = np.concatenate([[0], np.cumsum(self.spins)[:-1]])
        self._channels = [(int(s), n) for s, n in zip(starts, self.spins, strict=True) if n]
        self._rows, self._pair_channel = spin_channels(like_pairs)
        initial = {"unlike": eta_unlike, "like": eta_like}
        self.a0 = np.zeros((len(self._rows), self.terms))
        self.a0[:, 0] = [initial[c] for c in self._rows]
        self.log_b0 = np.tile(np.log(width) + np.log(4.0) * np.arange(self.terms),
                              (len(self._rows), 1))
        self.inv_l2 = self.omega  # 1 / l^2 with the oscillator length l = 1 / sqrt(omega)
        self.n_params = 1 + 2 * self.a0.size

    def initial_params(self, rng):
        return np.concatenate([[self.alpha0], self.a0.ravel(), self.log_b0.ravel()])

    def param_names(self):
        names = ["alpha"]
        for prefix in ("eta_a", "eta_log_b"):
            names += [f"{prefix}_{c}[{m}]" for c in self._rows for m in range(self.terms)]
        return names

    # backflow coordinates

    def _eta(self, p, u):
        """eta, eta', eta'' (d/du, u = r^2) per pair (W, P), and the Pade factors q (W, P, K)."""
        size = self.a0.size
        a = p[1 : 1 + size].reshape(self.a0.shape)[self._pair_channel]  # (P, K)
        beta = np.exp(p[1 + size :]).reshape(self.a0.shape)[self._pair_channel] * self.inv_l2
        q = 1.0 / (1.0 + beta * u[..., None])
        eta = np.sum(a * q, axis=-1)
        d1 = -np.sum(a * beta * q * q, axis=-1)
        d2 = 2.0 * np.sum(a * beta * beta * q * q * q, axis=-1)
        return eta, d1, d2, q, a, beta

    def _param_terms(self, q, a, beta, u, w):
        # d ln|D| / d(a, ln b) summed over each channel's pairs; w = (G_i - G_j) . r_ij (W, P)
        da = q * w[..., None]  # (W, P, K)
        dlogb = -(a * beta) * u[..., None] * q * q * w[..., None]
        out = []
        for per_pair in (da, dlogb):
            for c in range(len(self._rows)):
                out.append(per_pair[:, self._pair_channel == c].sum(1))  # (W, K)
        return np.concatenate(out, axis=1)

    # whole-configuration evaluations

    def evaluate(self, p, x, pairs, order: int, params: bool):
        """ln|D| and by ``order`` (1: gradient, 2: and Laplacian) and ``params`` the rest."""
        alpha = p[0]
        walkers, n, dim = x.shape
        diff, r = pairs if pairs is not None else pair_vectors(x)
        u = r * r
        eta, d1, d2, q, a, beta = self._eta(p, u)
        y = x + scatter(eta[..., None] * diff, n)
        need_grad = order >= 1 or params
        if order >= 2:
            values, grads, hess = orbital_hessians(self.orbitals, alpha, y)
        elif need_grad:
            values, grads, _ = self.orbitals.derivatives(alpha, y, laplacian=False)
        else:
            values = self.orbitals.values(alpha, y)
        env = gaussian_envelope(alpha, self.omega, x)
        log = env[0].copy()
        sign = np.ones(walkers)
        g_y = np.zeros(x.shape)
        h_y = np.zeros((walkers, n, dim, n, dim)) if order >= 2 else None
        for s, m in self._channels:
            block = values[:, s : s + m, :m]
            sg, lg = np.linalg.slogdet(block)
            log, sign = log + lg, sign * sg
            if not need_grad:
                continue
            inverse = np.linalg.inv(block)  # B[w, j, i]
            if order < 2:
                g_y[:, s : s + m] = np.einsum("wiaj,wji->wia", grads[:, s : s + m, :, :m], inverse)
                continue
            # C[i, a, k] = sum_j d_a P_j(y_i) B[j, k]: the gradient on its diagonal i = k,
            # and the y-Hessian delta_ik K_i - C[i, a, k] C[k, c, i]
            c = np.einsum("wiaj,wjk->wiak", grads[:, s : s + m, :, :m], inverse)
            g_y[:, s : s + m] = np.einsum("wiai->wia", c)
            h = -np.einsum("wiaj,wjci->wiajc", c, c)
            k = np.einsum("wiabj,wji->wiab", hess[:, s : s + m, :, :, :m], inverse)
            idx = np.arange(m)
            h[:, idx, :, idx, :] += np.moveaxis(k, 0, 1)
            h_y[:, s : s + m, :, s : s + m, :] = h
        out = {"log_psi": log, "sign": sign}
        if not need_grad:
            return out
        i, j, _ = pair_indices(n)
        g_diff = g_y[:, i] - g_y[:, j]  # (W, P, d)
        w = np.einsum("wpd,wpd->wp", g_diff, diff)
        if order >= 1:
            # J^T G: particle i gets M_ij (G_i - G_j), particle j the opposite
            field = eta[..., None] * g_diff + (2.0 * d1 * w)[..., None] * diff
            out["grad"] = g_y + scatter(field, n) + env[1]
        if order >= 2:
            jac = self._jacobian(eta, d1, diff, n, dim)  # (W, N d, N d)
            jjt = np.matmul(jac, np.swapaxes(jac, 1, 2))
            term1 = np.einsum("wab,wab->w", h_y.reshape(walkers, n * dim, n * dim), jjt)
            coefficient = 2.0 * (4.0 * u * d2 + 2.0 * (dim + 2) * d1)
            lap_y = scatter(coefficient[..., None] * diff, n)
            out["lap"] = term1 + np.einsum("wnd,wnd->w", g_y, lap_y) + env[2]
        if params:
            dalpha = np.einsum("wnd,wnd->w", y, g_y) / (2.0 * alpha) + env[3]
            out["params"] = np.concatenate(
                [dalpha[:, None], self._param_terms(q, a, beta, u, w)], axis=1
            )
        return out

    def _jacobian(self, eta, d1, diff, n, dim):
        """dy/dx as (W, N d, N d): blocks -M_ij off the diagonal, I + sum_j M_ij on it."""
        walkers = eta.shape[0]
        i, j, incidence = pair_indices(n)
        m = eta[..., None, None] * np.eye(dim) + (2.0 * d1)[..., None, None] * (
            diff[..., :, None] * diff[..., None, :]
        )  # (W, P, d, d)
        jac = np.zeros((walkers, n, n, dim, dim))
        jac[:, i, j] = -m
        jac[:, j, i] = -m
        # particle k's diagonal block sums M over its pairs, whichever end it is
        diagonal = np.einsum("np,wpab->wnab", np.abs(incidence), m)
        jac[:, np.arange(n), np.arange(n)] = np.eye(dim) + diagonal
        return jac.transpose(0, 1, 3, 2, 4).reshape(walkers, n * dim, n * dim)

    def sign(self, p, x):
        return self.evaluate(p, x, None, 0, False)["sign"]

    # single-particle moves: every y_i moves, so the determinant is evaluated afresh

    def init_cache(self, p, x) -> BackflowCache:
        return BackflowCache(*self.log_psi_grad(p, x))

    def grad_particle(self, p, x, cache: BackflowCache, k: int) -> np.ndarray:
        return cache.grad[:, k]

    def propose(self, p, x, cache: BackflowCache, k: int, xk: np.ndarray):
        moved = x.copy()
        moved[:, k] = xk
        log, grad = self.log_psi_grad(p, moved)
        return log - cache.log_psi, grad[:, k], (log, grad)

    def accept(self, p, x, cache: BackflowCache, k, xk, accepted, data) -> BackflowCache:
        if not np.any(accepted):
            return cache
        log, grad = data
        return BackflowCache(
            np.where(accepted, log, cache.log_psi), np.where(accepted[:, None, None], grad,
                                                             cache.grad)
        )

