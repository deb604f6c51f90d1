"""The factor interface of trial wave functions and the registry of factor kinds.

A factor is one additive term of ln psi.  For parameters ``p`` (1-D array) and
positions ``x`` of shape (W, N, d) it gives

- ``log_psi(p, x)`` -> (W,)
- ``log_psi_grad(p, x)`` -> ln psi (W,) and its coordinate gradient (W, N, d)
- ``grad_lap(p, x)`` -> the gradient and the Laplacian summed over all coordinates (W,)
- ``param_grad(p, x)`` -> d ln psi / d p, shape (W, P)
- ``local_terms(p, x)`` -> gradient, Laplacian and parameter gradient in one pass

Pair factors also accept ``pairs=(diff, r)`` from :func:`geometry.pair_vectors`
so a product computes the pair geometry once.  ``log_psi`` is ln|psi|; an
antisymmetric factor also gives ``sign(p, x)``.

Single-particle moves (the sampler moves particle k of every walker at once)
use a per-walker cache that a factor may keep (a Slater determinant keeps its
inverse matrices):

- ``init_cache(p, x)`` -> the cache at positions ``x`` (or None)
- ``grad_particle(p, x, cache, k)`` -> d ln|psi| / d x_k at ``x``, (W, d)
- ``propose(p, x, cache, k, xk)`` -> ``(dlog, grad, data)``: ln|psi(x')| - ln|psi(x)|
  (W,) and d ln|psi(x')| / d x_k (W, d), where x' is ``x`` with particle k at ``xk``
  (W, d); ``data`` is whatever ``accept`` needs again
- ``accept(p, x, cache, k, xk, accepted, data)`` -> the cache after particle k
  moved to ``xk`` in the walkers where ``accepted`` (W,) is True; ``x`` still
  holds the old positions.  It may update ``cache`` in place (the neural
  Jastrow does, to avoid copying per-pair arrays): only the returned cache is
  valid afterwards

The defaults below are correct for any factor but recompute everything; a
factor overrides them where it can do better (O(N) instead of O(N^2) work).
"""

from __future__ import annotations

import numpy as np

from nqsflow.registry import Registered
from nqsflow.vmc.hamiltonians import HarmonicTrap

FACTORS: dict[str, type[Factor]] = {}  # kind -> class, filled as factor classes are defined

POSITIVE = {"type": "number", "exclusiveMinimum": 0}


class Factor(Registered):
    """One factor of the trial wave function (one additive term of ln psi).

    A subclass with a ``kind`` registers itself: run specs name it by that kind,
    ``options`` is the JSON schema of its keyword options, and ``from_spec``
    builds it for a Hamiltonian.  Nothing else needs to change for a new ansatz.
    """

    registry = FACTORS
    uses_pairs = False
    antisymmetric = False  # True for a factor that changes sign under like-spin exchange
    n_params = 0

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

    def sign(self, p, x) -> np.ndarray:
        """Sign of this factor at each walker (W,): +1 unless the factor can change sign."""
        return np.ones(x.shape[0])

    def init_cache(self, p, x):
        """Per-walker data that single-particle moves update (None: nothing kept)."""
        return None

    def grad_particle(self, p, x, cache, k: int) -> np.ndarray:
        """d ln|psi| / d x_k at ``x``, shape (W, d)."""
        return self.log_psi_grad(p, x)[1][:, k]

    def propose(self, p, x, cache, k: int, xk: np.ndarray):
        """Log-ratio and new gradient of particle k for the move x_k -> ``xk`` (see module doc)."""
        moved = x.copy()
        moved[:, k] = xk
        new_log, new_grad = self.log_psi_grad(p, moved)
        with np.errstate(invalid="ignore"):  # -inf - -inf inside a hard core: rejected
            return new_log - self.log_psi(p, x), new_grad[:, k], None

    def accept(self, p, x, cache, k: int, xk: np.ndarray, accepted: np.ndarray, data):
        """The cache after the accepted moves of particle k (see module doc)."""
        return cache


class OnePassFactor(Factor):
    """A factor whose every derivative comes out of one evaluation pass.

    A subclass implements ``evaluate(p, x, pairs, order, params)``, returning a
    dict with ``log_psi`` and, as asked, ``grad`` (order >= 1), ``lap`` (order 2)
    and ``params`` (the parameter gradient); the interface follows from it, so
    the fused ``local_terms`` of the optimisation is one pass.
    """

    def evaluate(self, p, x, pairs, order: int, params: bool) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def log_psi(self, p, x, pairs=None):
        return self.evaluate(p, x, pairs, 0, False)["log_psi"]

    def log_psi_grad(self, p, x, pairs=None):
        out = self.evaluate(p, x, pairs, 1, False)
        return out["log_psi"], out["grad"]

    def grad_lap(self, p, x, pairs=None):
        out = self.evaluate(p, x, pairs, 2, False)
        return out["grad"], out["lap"]

    def param_grad(self, p, x, pairs=None):
        return self.evaluate(p, x, pairs, 0, True)["params"]

    def local_terms(self, p, x, pairs=None):
        out = self.evaluate(p, x, pairs, 2, True)
        return out["grad"], out["lap"], out["params"]
