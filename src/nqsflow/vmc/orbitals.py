"""Harmonic-oscillator orbitals of an isotropic trap: Hermite polynomials times a Gaussian.

phi_n(x) = P_n(x) exp(-alpha omega r^2 / 2) with the polynomial part
P_n(x) = prod_a H_{n_a}(s x_a), s = sqrt(alpha omega), H the physicists' Hermite
polynomials (H_0 = 1, H_1 = 2y) and ``alpha`` a variational width (alpha = 1 gives
the exact one-body eigenstates).  The orbitals are not normalised: a determinant
only changes by a constant factor.

The Gaussian is the same for every orbital, so it factors out of a determinant,
det[phi_j(x_i)] = det[P_j(x_i)] prod_i exp(-alpha omega r_i^2 / 2).  The
:class:`HermiteOrbitals` therefore give the polynomial parts and their derivatives,
and :func:`gaussian_envelope` the log of the common Gaussian; the determinant of
the polynomial parts never underflows for walkers far out in the trap.

The polynomial parts depend on alpha only through ``s x``, so
dP/dalpha = x . grad P / (2 alpha); no separate table is needed.

Orbital order: shell by shell (total quanta n_1 + ... + n_d = 0, 1, 2, ...), and
within a shell by descending quanta along the first axis, then the second:
2D: (0,0); (1,0), (0,1); (2,0), (1,1), (0,2); (3,0), ...  An open shell takes the
first orbitals of its shell in this order.
"""

from __future__ import annotations

import itertools

import numpy as np

from nqsflow.errors import ConfigError


def shell_quanta(dim: int, count: int) -> np.ndarray:
    """Quanta (n_1, ..., n_d) of the ``count`` lowest orbitals, shape (count, dim), in order."""
    out: list[tuple[int, ...]] = []
    shell = 0
    while len(out) < count:
        in_shell = [q for q in itertools.product(range(shell + 1), repeat=dim) if sum(q) == shell]
        out.extend(sorted(in_shell, reverse=True))
        shell += 1
    return np.array(out[:count], dtype=int).reshape(count, dim)


def hermite_table(y: np.ndarray, top: int) -> np.ndarray:
    """H_0(y), ..., H_top(y), shape (*y.shape, top + 1), by H_{n+1} = 2y H_n - 2n H_{n-1}."""
    table = np.empty((*y.shape, top + 1))
    table[..., 0] = 1.0
    if top >= 1:
        table[..., 1] = 2.0 * y
    for n in range(1, top):
        table[..., n + 1] = 2.0 * y * table[..., n] - 2.0 * n * table[..., n - 1]
    return table


class HermiteOrbitals:
    """Polynomial parts P_j of the ``count`` lowest oscillator orbitals in ``dim`` dimensions.

    Evaluated at positions of any leading shape (..., dim); lengths in the trap's
    units (``omega`` as in the Hamiltonian).
    """

    def __init__(self, dim: int, count: int, omega: float):
        self.dim = int(dim)
        self.count = int(count)
        self.omega = float(omega)
        self.quanta = shell_quanta(self.dim, self.count)
        self.top = int(self.quanta.max()) if self.count else 0
        n = np.arange(self.top + 1)
        self._first = 2.0 * n[1:]  # H_n' = 2n H_{n-1}
        self._second = 4.0 * n[2:] * (n[2:] - 1)  # H_n'' = 4n(n-1) H_{n-2}

    def _tables(self, alpha: float, x: np.ndarray, order: int) -> list[list[np.ndarray]]:
        """d^m/dx_a^m H_n(s x_a) for m = 0..order, per axis a: tables[m][a] (..., top + 1)."""
        s = np.sqrt(alpha * self.omega)
        # one contiguous table per axis: the gathers below then read whole rows
        values = hermite_table(s * np.moveaxis(x, -1, 0), self.top)
        tables = [list(values)]
        for m, scale in ((1, s * self._first), (2, s * s * self._second)):
            if m > order:
                break
            derivative = np.zeros_like(values)
            np.multiply(values[..., : self.top + 1 - m], scale, out=derivative[..., m:])
            tables.append(list(derivative))
        return tables

    def _gather(self, table: np.ndarray, a: int) -> np.ndarray:
        # the entries n_ja of every orbital j: (..., top + 1) -> (..., count)
        return table[..., self.quanta[:, a]]

    def values(self, alpha: float, x: np.ndarray) -> np.ndarray:
        """P_j(x) at positions (..., dim): shape (..., count)."""
        table = self._tables(alpha, x, 0)[0]
        out = self._gather(table[0], 0)
        for a in range(1, self.dim):
            out *= self._gather(table[a], a)
        return out

    def derivatives(self, alpha: float, x: np.ndarray, laplacian: bool = True):
        """P_j, grad P_j and (if ``laplacian``) nabla^2 P_j at positions (..., dim).

        Shapes (..., count), (..., dim, count) (the orbital axis last, as the
        determinant algebra contracts it) and (..., count) (None without ``laplacian``).
        """
        tables = self._tables(alpha, x, 2 if laplacian else 1)
        factors = [self._gather(t, a) for a, t in enumerate(tables[0])]
        others = self._others(factors)  # product over the other axes, no division by H
        values = factors[0] * others[0]
        grad = np.empty((*x.shape, self.count))
        for a in range(self.dim):
            np.multiply(self._gather(tables[1][a], a), others[a], out=grad[..., a, :])
        if not laplacian:
            return values, grad, None
        lap = self._gather(tables[2][0], 0) * others[0]
        for a in range(1, self.dim):
            lap += self._gather(tables[2][a], a) * others[a]
        return values, grad, lap

    def _others(self, factors: list[np.ndarray]) -> list:
        # prod_{b != a} factors[b] for each axis a (dim is 1, 2 or 3)
        if self.dim == 1:
            return [1.0]
        if self.dim == 2:
            return factors[::-1]
        x, y, z = factors
        return [y * z, x * z, x * y]


def gaussian_envelope(alpha: float, omega: float, x: np.ndarray):
    """ln of prod_i exp(-alpha omega r_i^2 / 2) for x (W, N, d).

    Returns the log (W,), its gradient (W, N, d), Laplacian (W,) and d/dalpha (W,).
    """
    r2 = np.einsum("wnd,wnd->w", x, x)
    a = alpha * omega
    lap = np.full(x.shape[0], -a * x.shape[1] * x.shape[2])
    return -0.5 * a * r2, -a * x, lap, -0.5 * omega * r2


def check_fermion_trap(system, kind: str) -> None:
    """Refuse, in one line naming the key, a system the oscillator orbitals cannot fill."""
    if system.spins is None:
        raise ConfigError(
            f"system.spins: the {kind} factor needs fermions; give system.spins: "
            "[n_up, n_down] (or interaction: coulomb for the closed-shell default)"
        )
    if system.elliptic != 1.0:
        raise ConfigError(
            f"system.elliptic: the {kind} factor's orbitals are those of an isotropic "
            f"trap, got elliptic = {system.elliptic}"
        )
