"""Taut's quasi-exact solutions of two Coulomb-repelling particles in a trap.

For special trap frequencies the relative wave function is a Gaussian times a
polynomial (M. Taut, Phys. Rev. A 48, 3561 (1993) in 3D; J. Phys. A 27, 1045
(1994) in 2D).  With ``u = r^(nu + 1/2) f``, ``f = exp(-omega r^2 / 4) P(r)`` and
``P = sum_k c_k r^k`` the radial equation of :mod:`nqsflow.data.two_body` gives

    c_{k+1} (k + 1)(k + 2 nu + 1) = c_k + (omega (k - 1) - eps) c_{k-1},

with ``eps = E_rel - omega (nu + 1)``.  The series stops at degree ``n`` when
``eps = n omega`` and ``c_{n+1}(omega) = 0``, a polynomial equation in omega.
Its root whose ``P`` has no positive zero is the lowest state of that angular
momentum: ``E = dim omega / 2 + omega (n + nu + 1)`` exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import Polynomial


def quasi_exact(dim: int, m: int, degree: int) -> tuple[float, float]:
    """``(omega, E)`` of the nodeless quasi-exact state with polynomial ``degree >= 1``.

    ``dim`` is 2 or 3, ``m`` the relative angular momentum (``|m|`` in 2D, ``l``
    in 3D); ``E`` (hartree) includes the centre of mass in its ground state.
    """
    if dim not in (2, 3) or m < 0 or degree < 1:
        raise ValueError(f"no quasi-exact state for dim={dim}, m={m}, degree={degree}")
    nu = m + dim / 2 - 1
    omega = Polynomial([0.0, 1.0])
    eps = degree * omega
    coeffs = [Polynomial([1.0]), Polynomial([1.0 / (2 * nu + 1)])]
    for k in range(1, degree + 1):
        nxt = (coeffs[k] + (omega * (k - 1) - eps) * coeffs[k - 1]) / ((k + 1) * (k + 2 * nu + 1))
        coeffs.append(nxt)
    for root in sorted(coeffs[degree + 1].roots(), key=lambda z: z.real):
        if abs(root.imag) > 1e-12 * max(1.0, abs(root)) or root.real <= 0:
            continue
        w = float(root.real)
        p = np.array([c(w) for c in coeffs[: degree + 1]])
        zeros = np.roots(p[::-1])
        if not np.any((np.abs(zeros.imag) < 1e-9) & (zeros.real > 0)):
            return w, dim * w / 2 + w * (degree + nu + 1)
    raise ValueError(f"no nodeless quasi-exact state for dim={dim}, m={m}, degree={degree}")
