"""The neural (Deep Sets) Jastrow: exact derivatives, symmetry, its start, and fast moves."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.vmc.factor import FACTORS
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.neural_jastrow import NeuralJastrow

from .test_jastrow import assert_moves_match, coordinate_errors, parameter_error

SMALL = {"hidden": [], "features": 4, "rho_hidden": [4, 3]}
DEEP = {"hidden": [5, 4], "features": 3, "rho_hidden": 4}
LINEAR = {"hidden": 3, "features": 2, "rho_hidden": []}  # rho linear: one- and two-body terms
CASES = [
    (6, 2, (3, 3), SMALL),
    (8, 3, (4, 4), DEEP),
    (5, 3, None, DEEP),
    (6, 2, (3, 3), DEEP),
    (4, 2, (2, 2), LINEAR),
]


def _system(particles, dim, spins, omega=0.7):
    interaction = "coulomb" if spins else "none"
    return HarmonicTrap(omega, particles, dim, interaction, spins=spins)


def _trained(factor, seed=1):
    """Initial parameters plus noise, so that rho's last layer is no longer zero."""
    rng = np.random.default_rng(seed)
    return factor.initial_params(rng) + 0.3 * rng.standard_normal(factor.n_params)


def _positions(walkers, particles, dim, seed=2):
    return 1.2 * np.random.default_rng(seed).standard_normal((walkers, particles, dim))


@pytest.mark.parametrize(("particles", "dim", "spins", "options"), CASES)
def test_derivatives_against_finite_differences(particles, dim, spins, options):
    factor = NeuralJastrow.from_spec(_system(particles, dim, spins), **options)
    p, x = _trained(factor), _positions(3, particles, dim)
    grad_error, lap_error = coordinate_errors(factor, p, x)
    assert grad_error < 1e-8 and lap_error < 1e-5
    assert parameter_error(factor, p, x) < 1e-8
    log_psi, grad = factor.log_psi_grad(p, x)
    g, lap, dp = factor.local_terms(p, x)
    np.testing.assert_allclose(log_psi, factor.log_psi(p, x), rtol=1e-13)
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lap, factor.grad_lap(p, x)[1], rtol=1e-12)
    np.testing.assert_allclose(dp, factor.param_grad(p, x), rtol=1e-12, atol=1e-15)


def test_symmetric_under_permutations_that_keep_spins():
    factor = NeuralJastrow.from_spec(_system(6, 2, (3, 3)), **SMALL)
    p, x = _trained(factor), _positions(4, 6, 2)
    ref = factor.log_psi(p, x)
    within = [2, 0, 1, 4, 5, 3]  # inside each spin block
    across = [3, 4, 5, 0, 1, 2]  # every up with a down: like pairs stay like
    for order in (within, across, [5, 3, 4, 1, 2, 0]):
        np.testing.assert_allclose(factor.log_psi(p, x[:, order]), ref, rtol=1e-13)
    # the pair network sees spins: one up with one down is a different state
    swapped = factor.log_psi(p, x[:, [3, 1, 2, 0, 4, 5]])
    assert np.all(np.abs(swapped - ref) > 1e-6)
    bosons = NeuralJastrow.from_spec(_system(5, 3, None), **SMALL)
    q, y = _trained(bosons), _positions(4, 5, 3)
    np.testing.assert_allclose(
        bosons.log_psi(q, y[:, [4, 2, 0, 3, 1]]), bosons.log_psi(q, y), rtol=1e-13
    )


def test_starts_at_one_and_scales_with_the_trap():
    system = _system(6, 2, (3, 3))
    factor = FACTORS["neural_jastrow"].from_spec(system)
    p = factor.initial_params(np.random.default_rng(0))
    # phi 12 + 12, psi (two channels) 24 + 24, rho 36 x 16 + 16 + 16 + 1
    assert p.size == factor.n_params == len(factor.param_names()) == 24 + 48 + 609
    x = _positions(5, 6, 2)
    grad, lap, dp = factor.local_terms(p, x)
    assert np.all(factor.log_psi(p, x) == 0.0) and np.all(grad == 0.0) and np.all(lap == 0.0)
    assert np.any(dp != 0.0)  # rho's last layer moves first
    # one integer is one hidden layer: phi 8 + 8 + 96 + 12, psi 16 + 16 + 96 + 12, rho 144 + 4 + 5
    assert NeuralJastrow.from_spec(system, hidden=8, rho_hidden=4).n_params == 124 + 140 + 153
    # the same parameters describe the same state in oscillator units at any omega
    q = _trained(factor)
    other = NeuralJastrow.from_spec(_system(6, 2, (3, 3), omega=0.1), **{})
    np.testing.assert_allclose(
        other.log_psi(q, x * np.sqrt(0.7 / 0.1)), factor.log_psi(q, x), rtol=1e-13
    )


def test_smooth_at_coalescence_leaves_the_cusp_to_pade():
    # a cusp a |r_ij| would give (f(+e) + f(-e) - 2 f(0)) / e = 2a; a smooth J gives O(e)
    factor = NeuralJastrow.from_spec(_system(6, 2, (3, 3)), **SMALL)
    p, eps = _trained(factor), 1e-4
    for i, j in ((0, 1), (0, 3)):  # like and unlike
        x = _positions(2, 6, 2)
        x[:, j] = x[:, i]
        kink = -2.0 * factor.log_psi(p, x)
        for sign in (1.0, -1.0):
            y = x.copy()
            y[:, j, 0] += sign * eps
            kink += factor.log_psi(p, y)
        assert np.all(np.abs(kink) / eps < 1e-5)
        assert np.all(np.isfinite(factor.grad_lap(p, x)[1]))


@pytest.mark.parametrize(("particles", "dim", "spins", "options"), CASES)
def test_moves_match_direct_evaluation(particles, dim, spins, options):
    factor = NeuralJastrow.from_spec(_system(particles, dim, spins), **options)
    rng = np.random.default_rng(7)
    assert_moves_match(factor, _trained(factor), _positions(6, particles, dim), rng, moves=20)
