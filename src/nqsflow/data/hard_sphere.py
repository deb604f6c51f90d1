"""Two particles with a hard-core contact of radius ``a`` in an isotropic trap.

The relative motion (reduced mass 1/2, hbar = m = 1) obeys

    H_rel = -nabla_r^2 + omega^2 r^2 / 4   for r > a,      psi(r <= a) = 0,

in ``dim`` dimensions.  The radial function ``R(r)`` of angular quantum number
``l`` (``|m|`` in 2D, the parity in 1D) has the centrifugal constant
``c = l (l + dim - 2)`` and vanishes at ``r = a``.  Near the wall ``R`` behaves
like ``ln(r / a)`` (2D, m = 0) or ``(r - a) / r`` (3D, l = 0), functions whose
singularity sits at ``r = 0``, only ``a`` away from the interval: a Chebyshev
grid in ``r`` would need thousands of nodes for small ``a``.  In ``y = ln(r/a)``
that singularity moves to ``y = -inf`` and the equation

    -(R_yy + (dim - 2) R_y) + c R + omega^2 r^4 / 4 R = E r^2 R,    r = a e^y,

is smooth on ``[0, Y]``; it is collocated on Chebyshev nodes with ``R = 0`` at
both ends (the wall, and a box ``Y`` many oscillator lengths past the classical
radius).  Grids are refined until two successive ones agree to :data:`TOLERANCE`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from nqsflow.data.chebyshev import chebyshev
from nqsflow.errors import ConvergenceError

TOLERANCE = 1e-9
"""Agreement demanded of two successive grids, relative to ``max(1, |E|/omega)``."""

# Chebyshev node counts tried in turn; a pair of successive ones must agree.
_NODES = (32, 48, 64, 96, 128, 192, 256)
_TAIL = 13.0  # box past the classical radius, in units of 1/sqrt(omega)
METHOD = (
    "Chebyshev collocation of the relative radial equation in y = ln(r/a) with a "
    f"Dirichlet wall at r = a, refined until two grids agree to {TOLERANCE:g}; "
    "centre of mass analytic"
)


def hard_sphere_relative_energy(omega: float, radius: float, dim: int = 3, m: int = 0) -> float:
    """Lowest relative energy (``E_rel``, same units as ``omega``) outside a hard core.

    ``radius`` is the contact distance ``a > 0`` of the two particles (the
    relative wave function vanishes for ``|r1 - r2| <= a``); ``m`` as in
    :func:`nqsflow.data.two_body_energy`.  The answer depends on ``omega`` and
    ``radius`` only through ``radius * sqrt(omega)``: ``E_rel / omega`` is a
    function of that product.  Raises :class:`ConvergenceError` when no pair of
    successive grids agrees.
    """
    radius = float(radius)
    if not 0.0 < radius < math.inf:
        raise ValueError(f"radius must be a positive finite number, not {radius!r}")
    # Work in oscillator units (omega = 1): E_rel(omega, a) = omega E_rel(1, a sqrt(omega)).
    a = radius * math.sqrt(omega)
    c = float(abs(m) * (abs(m) + dim - 2)) if dim > 1 else 0.0
    nu = math.sqrt(c + (dim / 2 - 1) ** 2)
    r_max = a + math.sqrt(2.0 * nu) + _TAIL
    span = math.log(r_max / a)
    previous = math.nan
    for nodes in _NODES:
        energy = _lowest(a, dim, c, span, nodes)
        if abs(energy - previous) <= TOLERANCE * max(1.0, abs(energy)):
            return omega * energy
        previous = energy
    raise ConvergenceError(
        f"hard-sphere solver did not converge at omega={omega:g}, radius={radius:g}, "
        f"dim={dim}, m={m}: last grids gave {previous!r} (tolerance {TOLERANCE:g})"
    )


def _lowest(a: float, dim: int, c: float, span: float, nodes: int) -> float:
    """Lowest eigenvalue at omega = 1 on ``nodes + 1`` Chebyshev points in y in [0, span]."""
    t, d = chebyshev(nodes)
    y = span * (1 - t) / 2  # y = 0 (the wall) at t = 1, y = span at t = -1
    d1 = -(2 / span) * d
    d2 = d1 @ d1
    r2 = (a * np.exp(y)) ** 2
    lhs = -d2 - (dim - 2) * d1 + np.diag(c + r2**2 / 4)
    inner = slice(1, nodes)  # Dirichlet at both ends
    w = scipy.linalg.eigvals(lhs[inner, inner], np.diag(r2[inner]))
    w = w[np.isfinite(w)]
    w = w[np.abs(w.imag) <= 1e-8 * np.maximum(1.0, np.abs(w.real))].real
    return float(w.min()) if w.size else math.nan
