"""Exact energies of two particles in an isotropic harmonic trap (hbar = m = 1).

The Hamiltonian is ``sum_i (-nabla_i^2 / 2 + omega^2 r_i^2 / 2) + lambda / |r1 - r2|``
in ``dim`` dimensions, energies in hartree for the Coulomb case (lambda = 1).  The
hard-sphere contact is solved in :mod:`nqsflow.data.hard_sphere`.  It
separates into the centre of mass (mass 2, energy ``dim * omega / 2`` in its
ground state) and the relative motion (reduced mass 1/2, same frequency):

    H_rel = -nabla_r^2 + omega^2 r^2 / 4 + lambda / r,      r = |r1 - r2|.

With ``nu = l + dim/2 - 1`` (``|m|`` in 2D, ``l + 1/2`` in 3D) the reduced radial
function is ``u(r) = r^(nu + 1/2) f(r)``, and ``f`` is analytic in r (the Coulomb
cusp is the odd powers of r), so

    r f'' + (2 nu + 1) f' - (omega^2 r^3 / 4 + lambda) f = -E r f

is solved by Chebyshev collocation in r on ``[0, R]`` with ``f(R) = 0``.  The row at
``r = 0`` is the cusp condition, enforced by the equation itself.  ``R`` reaches a
fixed number of oscillator lengths ``1/sqrt(omega)`` past the classical radius, so
weak traps (strongly correlated, Wigner-molecule-like) converge as well as
strong ones.  Each energy is solved on two grids (more nodes, longer box) and
accepted only when both agree to :data:`TOLERANCE`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from nqsflow.data import hard_sphere
from nqsflow.data.chebyshev import chebyshev
from nqsflow.errors import ConvergenceError

INTERACTIONS = ("none", "coulomb", "hard_sphere")
TOLERANCE = 1e-9
"""Agreement demanded of the two grids, relative to ``max(1, |E|)`` (hartree)."""

# (Chebyshev nodes, box length past the classical radius in units of 1/sqrt(omega)).
# The ground state is converged to ~1e-12 with 40 nodes over 0.01 <= omega <= 100;
# the larger grids are for excited m/l and headroom.
_GRIDS = ((48, 12.0), (64, 14.0))
METHOD = (
    "Chebyshev collocation of the relative radial equation in r "
    f"({_GRIDS[0][0]} and {_GRIDS[1][0]} nodes), self-converged to {TOLERANCE:g} "
    "relative; centre of mass analytic"
)
ANALYTIC = "analytic: non-interacting oscillator levels"


def noninteracting_energy(omega, particles: int, dim: int):
    """Ground-state energy ``particles * dim * omega / 2`` of non-interacting particles.

    Distinguishable particles or bosons (all in the lowest orbital); ``omega`` may
    be a float or an array, the result has its shape.
    """
    energy = particles * dim * np.asarray(omega, dtype=float) / 2
    return float(energy) if energy.ndim == 0 else energy


def two_body_energy(
    omega: float,
    dim: int = 2,
    interaction: str = "coulomb",
    m: int = 0,
    radius: float | None = None,
) -> float:
    """Lowest energy (hartree) of two particles in a ``dim``-D trap of frequency ``omega``.

    ``m`` labels the relative motion: the angular momentum ``m`` in 2D (sign
    irrelevant), ``l`` in 3D, the parity (0 even, 1 odd) in 1D.  The centre of
    mass is in its ground state.  ``interaction`` is ``"none"`` (analytic),
    ``"coulomb"`` (``1/r12``) or ``"hard_sphere"`` (no overlap closer than
    ``radius``), the last two solved numerically.  In 1D a Coulomb wall or a hard
    core forces the wave function to vanish at contact, so both parities give
    the same energy.  Raises :class:`ConvergenceError` when the grids disagree.
    """
    _check(omega, dim, m)
    if interaction not in INTERACTIONS:
        raise ValueError(f"interaction must be one of {INTERACTIONS}, not {interaction!r}")
    if (radius is not None) != (interaction == "hard_sphere"):
        raise ValueError("a radius is given with, and only with, the 'hard_sphere' interaction")
    centre = dim * omega / 2
    if interaction == "none":
        return centre + omega * (_nu(dim, m) + 1)
    if interaction == "hard_sphere":
        return centre + hard_sphere.hard_sphere_relative_energy(omega, radius, dim, m)
    return centre + relative_energy(omega, dim, m, strength=1.0)


def relative_energy(omega: float, dim: int = 2, m: int = 0, strength: float = 1.0) -> float:
    """Lowest eigenvalue of ``-nabla^2 + omega^2 r^2 / 4 + strength / r`` (relative motion).

    ``m`` as in :func:`two_body_energy`; ``strength >= 0`` (repulsion).  Always
    solved numerically (with ``strength = 0`` the exact answer is
    ``omega * (nu + 1)``, a check of the solver).  Raises :class:`ConvergenceError`
    when the two grids disagree by more than :data:`TOLERANCE` relative to
    ``max(1, |E|)``.
    """
    _check(omega, dim, m)
    strength = float(strength)
    if not 0.0 <= strength < math.inf:
        raise ValueError(f"strength must be finite and >= 0, not {strength!r}")
    if dim == 1 and strength != 0.0:
        s = 1.0  # hard core: psi(0) = 0 whatever the parity, so u = r f as for odd states
    else:
        s = _nu(dim, m) + 0.5
    # The wave function sits near the minimum of omega^2 r^2/4 + nu^2/r^2 + strength/r,
    # which lies within 1.25 times the larger of the single-term radii below; the box
    # reaches many oscillator lengths beyond it, so weak traps are not cut off.
    nu = s - 0.5
    r_classical = max(
        (2 * strength / omega**2) ** (1 / 3),
        math.sqrt(2 * nu / omega) if nu > 0 else 0.0,
    )
    energies = [
        _lowest(omega, s, strength, nodes, r_classical + tail / math.sqrt(omega))
        for nodes, tail in _GRIDS
    ]
    coarse, fine = energies
    if not (math.isfinite(coarse) and math.isfinite(fine)) or abs(fine - coarse) > (
        TOLERANCE * max(1.0, abs(fine))
    ):
        raise ConvergenceError(
            f"two-body solver did not converge at omega={omega:g}, dim={dim}, m={m}: "
            f"E_rel = {coarse!r} vs {fine!r} on the two grids (tolerance {TOLERANCE:g})"
        )
    return fine


def _check(omega: float, dim: int, m: int) -> None:
    if not (isinstance(omega, (int, float, np.floating, np.integer)) and 0 < omega < math.inf):
        raise ValueError(f"omega must be a positive finite number, not {omega!r}")
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, not {dim!r}")
    if int(m) != m or (dim != 2 and m < 0) or (dim == 1 and m > 1):
        raise ValueError(f"m={m!r} is not a relative quantum number in {dim}D")


def _nu(dim: int, m: int) -> float:
    """Order ``l + dim/2 - 1`` of the radial equation (centrifugal ``(nu^2 - 1/4) / r^2``)."""
    return abs(m) + dim / 2 - 1


def _lowest(omega: float, s: float, strength: float, nodes: int, box: float) -> float:
    """Lowest eigenvalue of the collocated f-equation on [0, box] with f(box) = 0."""
    t, d = chebyshev(nodes)
    r = box * (1 - t) / 2  # r = 0 at t = 1 (first node), r = box at t = -1 (last node)
    d1 = -(2 / box) * d
    d2 = d1 @ d1
    a = -r[:, None] * d2 - 2 * s * d1 + np.diag(omega**2 * r**3 / 4 + strength)
    b = np.diag(r)
    if s == 0.0 and strength == 0.0:
        # The r = 0 row is empty here (1D even, no interaction): impose the symmetry f'(0) = 0.
        a[0] = d1[0]
    inner = slice(0, nodes)  # drop the r = box node: Dirichlet wall
    w = scipy.linalg.eigvals(a[inner, inner], b[inner, inner])
    # The r = 0 row has no E term, which gives one infinite eigenvalue; collocation
    # may add complex pairs far up the spectrum.  Keep finite, real ones.
    w = w[np.isfinite(w)]
    w = w[np.abs(w.imag) <= 1e-8 * np.maximum(1.0, np.abs(w.real))].real
    return float(w.min()) if w.size else math.nan
