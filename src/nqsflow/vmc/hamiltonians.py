"""Hamiltonians of particles in harmonic traps (hbar = m = 1).

Positions are batched: ``x`` has shape ``(walkers, particles, dim)``.
"""

from __future__ import annotations

import numpy as np

from nqsflow.errors import ConfigError

INTERACTIONS = ("none", "coulomb")


def pair_distances(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences ``x_i - x_j`` (W, N, N, d) and distances (W, N, N), diagonal set to inf."""
    diff = x[:, :, None, :] - x[:, None, :, :]
    r = np.sqrt(np.einsum("wijd,wijd->wij", diff, diff))
    n = x.shape[1]
    r[:, np.arange(n), np.arange(n)] = np.inf
    return diff, r


class HarmonicTrap:
    """N particles in an isotropic d-dimensional trap of frequency ``omega``.

    H = sum_i (-1/2 nabla_i^2 + omega^2 r_i^2 / 2) + sum_{i<j} V(r_ij), with V = 0
    (``interaction="none"``) or V = 1/r_ij (``"coulomb"``, atomic units).
    """

    def __init__(self, omega: float, particles: int, dim: int, interaction: str = "none"):
        if omega <= 0:
            raise ConfigError(f"system.omega must be positive, got {omega}")
        if interaction not in INTERACTIONS:
            raise ConfigError(f"system.interaction must be one of {INTERACTIONS}")
        if interaction == "coulomb" and dim == 1:
            raise ConfigError("system.interaction 'coulomb' is not integrable in dim=1")
        self.omega = float(omega)
        self.particles = int(particles)
        self.dim = int(dim)
        self.interaction = interaction

    @property
    def shape(self) -> tuple[int, int]:
        """(particles, dim) of one configuration."""
        return self.particles, self.dim

    def potential(self, x: np.ndarray) -> np.ndarray:
        """Potential energy of each walker, shape (W,)."""
        trap = 0.5 * self.omega**2 * np.einsum("wnd,wnd->w", x, x)
        if self.interaction == "none" or self.particles < 2:
            return trap
        _, r = pair_distances(x)
        # each pair appears twice in the full matrix; 1/inf = 0 on the diagonal
        return trap + 0.5 * np.sum(1.0 / r, axis=(1, 2))

    def local_energy(self, kinetic_terms: tuple[np.ndarray, np.ndarray], x: np.ndarray):
        """E_L = -1/2 (lap ln psi + |grad ln psi|^2) + V, from ``(grad, lap)`` of ln psi."""
        grad, lap = kinetic_terms
        kinetic = -0.5 * (lap + np.einsum("wnd,wnd->w", grad, grad))
        return kinetic + self.potential(x)

    def noninteracting_energy(self) -> float:
        """Exact ground-state energy without interaction: N d omega / 2."""
        return 0.5 * self.particles * self.dim * self.omega
