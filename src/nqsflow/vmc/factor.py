"""The factor interface of trial wave functions and the registry of factor kinds.

A factor is one additive term of ln psi.  For parameters ``p`` (1-D array) and
positions ``x`` of shape (W, N, d) it gives

- ``log_psi(p, x)`` -> (W,)
- ``log_psi_grad(p, x)`` -> ln psi (W,) and its coordinate gradient (W, N, d)
- ``grad_lap(p, x)`` -> the gradient and the Laplacian summed over all coordinates (W,)
- ``param_grad(p, x)`` -> d ln psi / d p, shape (W, P)
- ``local_terms(p, x)`` -> gradient, Laplacian and parameter gradient in one pass

Pair factors also accept ``pairs=(diff, r)`` from :func:`geometry.pair_vectors`
so a product computes the pair geometry once.
"""

from __future__ import annotations

import numpy as np

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
