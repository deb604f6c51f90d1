"""The Slater-determinant factor: one determinant of oscillator orbitals per spin.

psi_S = D_up D_down with D_s = det[phi_j(x_i)] over the particles i of spin s (the
first ``spins[0]`` particles are up, the next ``spins[1]`` down) and the
``spins[s]`` lowest orbitals j of :mod:`orbitals`.  The Gaussian of the orbitals
factors out of each determinant, so everything below works with the
determinants of the polynomial parts, A[w, i, j] = P_j(x_i), and their inverses
B = A^-1 (B[w, j, i]: column i belongs to particle i), and adds the Gaussian's log:

- grad_i ln|D| = sum_j grad P_j(x_i) B[j, i] (+ Gaussian)
- nabla^2 ln|D| = sum_i [sum_j nabla^2 P_j(x_i) B[j, i] - |grad_i ln|det A||^2] (+ Gaussian)
- d ln|D| / d alpha = tr(B dA/dalpha) = sum_i x_i . grad_i ln|det A| / (2 alpha) (+ Gaussian)

Single-particle moves keep B per walker and spin: moving particle k (row i of
its spin's matrix) to x' multiplies the determinant by R = sum_j P_j(x') B[j, i]
and B follows by a rank-one (Sherman-Morrison) update, O(n^2) per walker
instead of O(n^3).  The update accumulates rounding; a sampler refreshes the
cache with :meth:`Slater.init_cache` from time to time (the driver: every 10 rounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqsflow.vmc.factor import POSITIVE, Factor
from nqsflow.vmc.orbitals import HermiteOrbitals, check_fermion_trap, gaussian_envelope


@dataclass(frozen=True)
class SlaterCache:
    """Per-walker state of single-particle moves; never modified in place.

    ``inverses``: B = A^-1 per occupied spin channel, (W, n, n) each.
    """

    inverses: tuple[np.ndarray, ...]


class Slater(Factor):
    """psi = det_up det_down of harmonic-oscillator orbitals with a variational width alpha.

    ``envelope: false`` drops the common Gaussian exp(-alpha omega r^2 / 2) (for a
    product with a factor that carries its own, e.g. an RBM); alpha still scales
    the polynomials' argument sqrt(alpha omega) x.  One parameter, ``alpha``.
    """

    kind = "slater"
    options = {"alpha": POSITIVE, "envelope": {"type": "boolean"}}
    antisymmetric = True
    n_params = 1

    @classmethod
    def from_spec(cls, system, **options):
        check_fermion_trap(system, cls.kind)
        return cls(system.spins, system.dim, system.omega, **options)

    def __init__(
        self,
        spins: tuple[int, int],
        dim: int,
        omega: float,
        alpha: float = 1.0,
        envelope: bool = True,
    ):
        self.spins = tuple(int(n) for n in spins)
        self.omega = float(omega)
        self.alpha0 = float(alpha)
        self.envelope = bool(envelope)
        self.orbitals = HermiteOrbitals(dim, max(self.spins), self.omega)
        # occupied spin channels as (first particle, size); an empty channel is det = 1
        starts = np.concatenate([[0], np.cumsum(self.spins)[:-1]])
        self._channels = [(int(s), n) for s, n in zip(starts, self.spins, strict=True) if n]
        # particle k -> (channel, row in that channel's matrix)
        self._where = [(c, i) for c, (_, n) in enumerate(self._channels) for i in range(n)]

    def initial_params(self, rng):
        return np.array([self.alpha0])

    def param_names(self):
        return ["alpha"]

    # whole-configuration evaluations

    def _blocks(self, values: np.ndarray) -> list[np.ndarray]:
        # each channel's matrix A (W, n, n): its particles' rows, its n lowest orbitals
        return [values[:, s : s + n, :n] for s, n in self._channels]

    def _slogdet(self, alpha, x):
        values = self.orbitals.values(alpha, x)
        sign, log = np.ones(x.shape[0]), np.zeros(x.shape[0])
        for a in self._blocks(values):
            s, l = np.linalg.slogdet(a)
            sign, log = sign * s, log + l
        return sign, log

    def _det_terms(self, alpha, x, laplacian: bool, with_log: bool = False):
        """Gradient (W, N, d), Laplacian (W,) and ln|.| (W,) of the polynomial determinants."""
        values, grads, laps = self.orbitals.derivatives(alpha, x, laplacian)
        grad = np.zeros(x.shape)
        lap = np.zeros(x.shape[0]) if laplacian else None
        log = np.zeros(x.shape[0]) if with_log else None
        for s, n in self._channels:
            a = values[:, s : s + n, :n]
            if with_log:
                log += np.linalg.slogdet(a)[1]
            inverse = np.linalg.inv(a)  # B[w, j, i]
            g = np.einsum("widj,wji->wid", grads[:, s : s + n, :, :n], inverse)
            grad[:, s : s + n] = g
            if laplacian:
                lap += np.einsum("wij,wji->w", laps[:, s : s + n, :n], inverse)
                lap -= np.einsum("wid,wid->w", g, g)
        return grad, lap, log

    def _alpha_derivative(self, alpha, x, det_grad):
        # A depends on alpha only through sqrt(alpha omega) x: tr(B dA/dalpha) = x . grad / 2 alpha
        return np.einsum("wnd,wnd->w", x, det_grad) / (2.0 * alpha)

    def log_psi(self, p, x, pairs=None):
        log = self._slogdet(p[0], x)[1]
        if self.envelope:
            log = log + gaussian_envelope(p[0], self.omega, x)[0]
        return log

    def sign(self, p, x):
        return self._slogdet(p[0], x)[0]

    def log_psi_grad(self, p, x, pairs=None):
        grad, _, log = self._det_terms(p[0], x, laplacian=False, with_log=True)
        if self.envelope:
            env = gaussian_envelope(p[0], self.omega, x)
            log, grad = log + env[0], grad + env[1]
        return log, grad

    def local_terms(self, p, x, pairs=None):
        grad, lap, _ = self._det_terms(p[0], x, laplacian=True)
        dalpha = self._alpha_derivative(p[0], x, grad)
        if self.envelope:
            _, env_grad, env_lap, env_dalpha = gaussian_envelope(p[0], self.omega, x)
            grad, lap, dalpha = grad + env_grad, lap + env_lap, dalpha + env_dalpha
        return grad, lap, dalpha[:, None]

    def grad_lap(self, p, x, pairs=None):
        return self.local_terms(p, x)[:2]

    def param_grad(self, p, x, pairs=None):
        grad = self._det_terms(p[0], x, laplacian=False)[0]
        dalpha = self._alpha_derivative(p[0], x, grad)
        if self.envelope:
            dalpha = dalpha + gaussian_envelope(p[0], self.omega, x)[3]
        return dalpha[:, None]

    # single-particle moves: B per walker and channel, rank-one updates

    def init_cache(self, p, x) -> SlaterCache:
        values = self.orbitals.values(p[0], x)
        return SlaterCache(tuple(np.linalg.inv(a) for a in self._blocks(values)))

    def _envelope_grad(self, alpha, xk):
        return -alpha * self.omega * xk

    def grad_particle(self, p, x, cache: SlaterCache, k: int) -> np.ndarray:
        c, i = self._where[k]
        n = self._channels[c][1]
        _, grads, _ = self.orbitals.derivatives(p[0], x[:, k], laplacian=False)
        grad = np.einsum("wdj,wj->wd", grads[..., :n], cache.inverses[c][:, :, i])
        if self.envelope:
            grad = grad + self._envelope_grad(p[0], x[:, k])
        return grad

    def propose(self, p, x, cache: SlaterCache, k: int, xk: np.ndarray):
        """ln|R| (plus the Gaussian's change), the new gradient of particle k, and (P(xk), R)."""
        c, i = self._where[k]
        n = self._channels[c][1]
        values, grads, _ = self.orbitals.derivatives(p[0], xk, laplacian=False)
        values, column = values[:, :n], cache.inverses[c][:, :, i]
        ratio = np.einsum("wj,wj->w", values, column)
        with np.errstate(divide="ignore", invalid="ignore"):  # R = 0: dlog = -inf, rejected
            dlog = np.log(np.abs(ratio))
            # the new B's column i is the old one over R
            grad = np.einsum("wdj,wj->wd", grads[..., :n], column) / ratio[:, None]
        if self.envelope:
            dlog = dlog - 0.5 * p[0] * self.omega * (
                np.einsum("wd,wd->w", xk, xk) - np.einsum("wd,wd->w", x[:, k], x[:, k])
            )
            grad = grad + self._envelope_grad(p[0], xk)
        return dlog, grad, (values, ratio)

    def accept(self, p, x, cache: SlaterCache, k: int, xk, accepted, data) -> SlaterCache:
        """Sherman-Morrison where accepted: B' = B - B[:, i] (u^T B - e_i^T) / R, u = P(xk)."""
        if not np.any(accepted):
            return cache
        c, i = self._where[k]
        values, ratio = data
        inverse = cache.inverses[c]
        row = np.matmul(values[:, None, :], inverse)[:, 0]
        row[:, i] -= 1.0
        # a rejected proposal may be anything (inf, NaN): 0 * inf would poison B
        row = np.where(accepted[:, None], row, 0.0)
        with np.errstate(divide="ignore"):  # R = 0 only where rejected
            weight = np.where(accepted, 1.0 / ratio, 0.0)
        # every walker at once, the rejected ones with weight 0 (B - 0 = B exactly): cheaper
        # than gathering and scattering the accepted ones, and one fresh (W, n, n) array only
        new = (inverse[:, :, i] * weight[:, None])[:, :, None] * row[:, None, :]
        np.subtract(inverse, new, out=new)
        return SlaterCache(cache.inverses[:c] + (new,) + cache.inverses[c + 1 :])
