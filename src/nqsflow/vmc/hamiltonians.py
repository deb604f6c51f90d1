"""Hamiltonians of particles in harmonic traps (hbar = m = 1).

Positions are batched: ``x`` has shape ``(walkers, particles, dim)``.  Fermions
carry spins: the first ``spins[0]`` particles are spin up, the next
``spins[1]`` spin down, and a wave function must be antisymmetric under the
exchange of two like-spin particles.  Everything the driver needs to know about
the trap (its length and time units, where walkers start, histogram ranges)
lives here, so the driver knows nothing of traps.
"""

from __future__ import annotations

import itertools
from functools import cached_property

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

    ``spins = (n_up, n_down)`` makes the particles fermions (electrons); None
    makes them bosons.  :func:`build_hamiltonian` picks the closed-shell default
    for electrons in a Coulomb dot.
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
        spins: tuple[int, ...] | None = None,
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
        if spins is not None:
            spins = tuple(int(s) for s in spins)
            if len(spins) != 2 or min(spins) < 0 or sum(spins) != self.particles:
                raise ConfigError(
                    f"system.spins must be [n_up, n_down] adding up to {self.particles} "
                    f"particles, got {list(spins)}"
                )
        self.spins = spins
        # omega^2 per axis: the last axis is stiffer by lambda^2
        self._omega2 = np.full(self.dim, self.omega**2)
        self._omega2[-1] *= self.elliptic**2

    @property
    def shape(self) -> tuple[int, int]:
        """(particles, dim) of one configuration."""
        return self.particles, self.dim

    @property
    def fermions(self) -> bool:
        """True when the particles carry spins (and psi must be antisymmetric)."""
        return self.spins is not None

    @property
    def length(self) -> float:
        """The oscillator length 1/sqrt(omega): the unit of positions and steps."""
        return 1.0 / np.sqrt(self.omega)

    @property
    def time(self) -> float:
        """The oscillator time 1/omega: the unit of Langevin time steps."""
        return 1.0 / self.omega

    @cached_property
    def spin_labels(self) -> np.ndarray:
        """Spin of each particle (N,): 0 up, 1 down; all 0 for bosons."""
        if self.spins is None:
            return np.zeros(self.particles, dtype=int)
        return np.repeat(np.arange(2), self.spins)

    @cached_property
    def like_spin_pairs(self) -> np.ndarray:
        """For each pair i < j (geometry order), True where both spins are equal."""
        i, j = np.triu_indices(self.particles, 1)
        return self.spin_labels[i] == self.spin_labels[j]

    def initial_positions(self, rng, walkers: int) -> np.ndarray:
        """Starting walkers (W, N, d): a Gaussian cloud of the trap's size.

        ``rng`` draws with the walkers as leading axis (a :class:`WalkerStreams`
        or a Generator).  Hard cores are pulled apart so that psi != 0.
        """
        x = self.length * rng.standard_normal((walkers, *self.shape))
        if self.interaction == "hard_sphere":
            x = self._separate(rng, x)
        return x

    def _separate(self, rng, x: np.ndarray) -> np.ndarray:
        # redraw walkers with overlapping hard cores: a chain must start where psi != 0
        for _ in range(1000):
            bad = np.any(pair_vectors(x)[1] <= self.radius, axis=1)
            if not bad.any():
                return x
            # draw for every walker so each block's stream advances the same way
            x[bad] = x[bad] + self.radius * rng.standard_normal(x.shape)[bad]
        raise RuntimeError("could not place walkers without overlapping hard cores")

    def histogram_ranges(self) -> dict[str, float]:
        """Upper ends of the one-body (distance from the centre) and pair-distance histograms."""
        # the cloud of N fermions grows like sqrt(highest occupied shell)
        reach = np.sqrt(1.0 + self.highest_shell())
        return {"radial": 5.0 * reach * self.length, "pair": 7.0 * reach * self.length}

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

    def single_particle_levels(self, count: int) -> np.ndarray:
        """The ``count`` lowest one-body energies of the trap (with degeneracies), ascending."""
        levels = []
        top = count  # enough quanta: every state with fewer than `count` quanta
        for quanta in itertools.product(range(top), repeat=self.dim):
            if sum(quanta) < top:
                perp, z = sum(quanta[:-1]), quanta[-1]
                levels.append(
                    self.omega * (perp + 0.5 * (self.dim - 1) + self.elliptic * (z + 0.5))
                )
        return np.sort(levels)[:count]

    def highest_shell(self) -> int:
        """Oscillator quanta of the highest occupied one-body level (0 for bosons)."""
        if self.spins is None or max(self.spins) == 0:
            return 0
        top = self.single_particle_levels(max(self.spins))[-1]
        zero = 0.5 * self.omega * (self.dim - 1 + self.elliptic)
        return int(round((top - zero) / (self.omega * min(1.0, self.elliptic))))

    def noninteracting_energy(self) -> float:
        """Exact ground-state energy without interaction.

        Bosons all occupy the lowest level, N omega ((d - 1) + lambda) / 2;
        fermions fill the lowest levels once per spin (2, 10, 28, 60 for the
        closed shells N = 2, 6, 12, 20 of a 2D isotropic trap at omega = 1).
        """
        if self.spins is None:
            return 0.5 * self.particles * self.omega * (self.dim - 1 + self.elliptic)
        return float(sum(self.single_particle_levels(n).sum() for n in self.spins if n))


def closed_shells(dim: int, shells: int = 8) -> list[int]:
    """Electron numbers of the closed shells of an isotropic trap: 2, 6, 12, 20, ... in 2D."""
    filled, out = 0, []
    for s in range(shells):
        filled += int(np.prod([s + k for k in range(1, dim)]) / np.prod(range(1, dim)))
        out.append(2 * filled)
    return out


def default_spins(particles: int, dim: int, interaction: str) -> tuple[int, int] | None:
    """Spins of a run spec without ``system.spins``: closed-shell electrons in a Coulomb dot.

    Other interactions default to bosons (no spins).  An electron number that
    is odd or not a closed shell must name its spins.
    """
    if interaction != "coulomb":
        return None
    if particles not in closed_shells(dim):
        raise ConfigError(
            f"system.spins: {particles} electrons in {dim}D is not a closed shell "
            f"({', '.join(map(str, closed_shells(dim)[:5]))}, ...); give system.spins: "
            "[n_up, n_down]"
        )
    return particles // 2, particles // 2


def build_hamiltonian(system: dict) -> HarmonicTrap:
    """The trap described by a run spec's ``system`` section (defaults: :mod:`runspec`)."""
    from nqsflow.vmc.runspec import resolved_system  # late: it imports default_spins

    system = resolved_system(system)
    return HarmonicTrap(
        system["omega"],
        system["particles"],
        system["dim"],
        system.get("interaction", "none"),  # required in a run spec; "none" for a bare trap
        elliptic=system["elliptic"],
        radius=system.get("radius", 0.0),  # no hard core unless named
        spins=system.get("spins"),  # absent once resolved: bosons
    )
