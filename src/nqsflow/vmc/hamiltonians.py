"""Hamiltonians of particles in harmonic traps (hbar = m = 1).

Positions are batched: ``x`` has shape ``(walkers, particles, dim)``.
"""

from __future__ import annotations

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.vmc.geometry import pair_vectors

INTERACTIONS = ("none", "coulomb", "hard_sphere")


class HarmonicTrap:
    """N particles in a d-dimensional harmonic trap, isotropic or elliptic.

    H = sum_i [-1/2 nabla_i^2 + omega^2 (r_perp,i^2 + lambda^2 z_i^2) / 2] + sum_{i<j} V(r_ij)
    where z is the last axis (``elliptic`` = lambda, 1 for an isotropic trap) and
    V = 0 (``"none"``), 1/r (``"coulomb"``, atomic units) or a hard core of
    radius ``radius`` (``"hard_sphere"``: the wave function must vanish for
    r < radius, so V never enters the local energy).
    """

    def __init__(
        self,
        omega: float,
        particles: int,
        dim: int,
        interaction: str = "none",
        *,
        elliptic: float = 1.0,
        radius: float = 0.0,
    ):
        if omega <= 0:
            raise ConfigError(f"system.omega must be positive, got {omega}")
        if interaction not in INTERACTIONS:
            raise ConfigError(f"system.interaction must be one of {INTERACTIONS}")
        if interaction == "coulomb" and dim == 1:
            raise ConfigError("system.interaction 'coulomb' is not integrable in dim=1")
        if interaction == "hard_sphere" and radius <= 0:
            raise ConfigError("system.radius must be positive for a hard_sphere interaction")
        if elliptic <= 0:
            raise ConfigError(f"system.elliptic must be positive, got {elliptic}")
        self.omega = float(omega)
        self.particles = int(particles)
        self.dim = int(dim)
        self.interaction = interaction
        self.elliptic = float(elliptic)
        self.radius = float(radius)
        # omega^2 per axis: the last axis is stiffer by lambda^2
        self._omega2 = np.full(self.dim, self.omega**2)
        self._omega2[-1] *= self.elliptic**2

    @property
    def shape(self) -> tuple[int, int]:
        """(particles, dim) of one configuration."""
        return self.particles, self.dim

    def trap_potential(self, x: np.ndarray) -> np.ndarray:
        """One-body trap energy of each walker, shape (W,)."""
        if self.elliptic == 1.0:
            return 0.5 * self.omega**2 * np.einsum("wnd,wnd->w", x, x)
        return 0.5 * np.einsum("wnd,wnd,d->w", x, x, self._omega2)

    def potential(self, x: np.ndarray, r: np.ndarray | None = None) -> np.ndarray:
        """Potential energy of each walker (W,); ``r`` are pair distances if known."""
        energy = self.trap_potential(x)
        if self.interaction == "coulomb" and self.particles > 1:
            if r is None:
                r = pair_vectors(x)[1]
            energy = energy + np.sum(1.0 / r, axis=1)
        return energy

    def local_energy(self, grad: np.ndarray, lap: np.ndarray, x: np.ndarray, r=None):
        """E_L = -1/2 (lap ln psi + |grad ln psi|^2) + V, from grad (W, N, d) and lap (W,)."""
        kinetic = -0.5 * (lap + np.einsum("wnd,wnd->w", grad, grad))
        return kinetic + self.potential(x, r)

    def noninteracting_energy(self) -> float:
        """Exact ground-state energy without interaction: N omega ((d - 1) + lambda) / 2."""
        return 0.5 * self.particles * self.omega * (self.dim - 1 + self.elliptic)


def build_hamiltonian(system: dict) -> HarmonicTrap:
    """The trap described by a run spec's ``system`` section."""
    return HarmonicTrap(
        system["omega"],
        system["particles"],
        system["dim"],
        system.get("interaction", "none"),
        elliptic=system.get("elliptic", 1.0),
        radius=system.get("radius", 0.0),
    )
