"""The Slater-determinant factor: derivatives, exact non-interacting states, antisymmetry,
and the single-particle-move cache (determinant ratio, Sherman-Morrison update)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.hermite import hermval

from nqsflow.config import validate
from nqsflow.errors import ConfigError
from nqsflow.vmc.factor import FACTORS
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.orbitals import HermiteOrbitals, hermite_table, shell_quanta
from nqsflow.vmc.slater import Slater
from nqsflow.vmc.wavefunctions import build_ansatz

from .finite_differences import numerical_grad_lap

H = 1e-4


def _positions(system, walkers=4, seed=1, spread=1.0):
    rng = np.random.default_rng(seed)
    return spread * system.length * rng.standard_normal((walkers, *system.shape))


def _slater(particles, dim, omega=1.0, spins=None, **options):
    system = HarmonicTrap(omega, particles, dim, "none", spins=spins or (particles // 2,) * 2)
    return system, Slater.from_spec(system, **options)


def test_registered_and_built_from_a_run_spec():
    assert FACTORS["slater"] is Slater
    system = HarmonicTrap(1.0, 6, 2, "coulomb", spins=(3, 3))
    ansatz = build_ansatz([{"kind": "slater", "alpha": 0.9}, {"kind": "pade_jastrow"}], system)
    assert ansatz.param_names()[0] == "slater.alpha"
    x = _positions(system)
    np.testing.assert_array_equal(
        ansatz.sign(ansatz.initial_params(None), x), ansatz.factors[0].sign(np.array([0.9]), x)
    )


def test_run_spec_options_are_validated():
    spec = {
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "slater", "alpha": 0.9, "envelope": False}],
        "sampler": {"kind": "langevin", "walkers": 10, "step": 0.3, "burn_in": 5, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 1, "samples": 10},
        "production": {"samples": 10},
        "seed": 1,
    }
    validate(spec, "runspec")
    spec["ansatz"] = [{"kind": "slater", "alpha": -1.0}]
    with pytest.raises(ConfigError, match="ansatz"):
        validate(spec, "runspec")


def test_orbital_order_and_hermite_polynomials():
    np.testing.assert_array_equal(
        shell_quanta(2, 6), [[0, 0], [1, 0], [0, 1], [2, 0], [1, 1], [0, 2]]
    )
    assert shell_quanta(3, 4).tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert shell_quanta(1, 3).tolist() == [[0], [1], [2]]
    y = np.linspace(-3, 3, 7)
    table = hermite_table(y, 6)
    for n in range(7):
        np.testing.assert_allclose(table[:, n], hermval(y, np.eye(7)[n]), rtol=1e-13)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_orbital_derivatives_against_finite_differences(dim):
    orbitals = HermiteOrbitals(dim, 10, omega=0.8)
    x = np.random.default_rng(4).normal(size=(3, dim))
    values, grad, lap = orbitals.derivatives(1.3, x)
    np.testing.assert_allclose(values, orbitals.values(1.3, x), rtol=1e-14)
    num_lap = np.zeros_like(values)
    for a in range(dim):
        step = np.zeros(dim)
        step[a] = H
        fp, fm = orbitals.values(1.3, x + step), orbitals.values(1.3, x - step)
        np.testing.assert_allclose(grad[..., a, :], (fp - fm) / (2 * H), rtol=1e-6, atol=1e-7)
        num_lap += (fp - 2 * values + fm) / H**2
    np.testing.assert_allclose(lap, num_lap, rtol=1e-4, atol=1e-4)


# closed shells in 2D and 3D; open shells with n = 1 and n = 0 channels; 1D
CASES = [(6, 2, None), (8, 3, None), (5, 2, (4, 1)), (3, 2, (3, 0)), (5, 1, (3, 2))]


@pytest.mark.parametrize("envelope", [True, False])
@pytest.mark.parametrize("particles, dim, spins", CASES)
def test_derivatives_against_finite_differences(particles, dim, spins, envelope):
    system, factor = _slater(particles, dim, 0.7, spins, alpha=0.8, envelope=envelope)
    p = factor.initial_params(None)
    # walkers away from the nodes of psi, where finite differences lose their digits
    x = _positions(system, walkers=40, seed=5)
    x = x[np.abs(factor.log_psi_grad(p, x)[1]).max(axis=(1, 2)) < 10.0][:4]
    assert len(x) == 4
    grad, lap = factor.grad_lap(p, x)
    f0 = factor.log_psi(p, x)
    num_grad, num_lap = numerical_grad_lap(lambda y: factor.log_psi(p, y), x, H)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lap, num_lap, rtol=1e-4, atol=1e-4)
    num_dalpha = (factor.log_psi(p + H, x) - factor.log_psi(p - H, x)) / (2 * H)
    np.testing.assert_allclose(factor.param_grad(p, x)[:, 0], num_dalpha, rtol=1e-6, atol=1e-7)
    # the fused evaluations agree with the separate ones
    log_psi, g1 = factor.log_psi_grad(p, x)
    g2, l2, dp = factor.local_terms(p, x)
    np.testing.assert_allclose(log_psi, f0, rtol=1e-13)
    np.testing.assert_allclose(g1, grad, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(g2, grad, rtol=1e-13)
    np.testing.assert_allclose(l2, lap, rtol=1e-13)
    np.testing.assert_allclose(dp, factor.param_grad(p, x), rtol=1e-12)


@pytest.mark.parametrize("omega", [1.0, 0.28])
@pytest.mark.parametrize(
    "particles, dim, energy", [(2, 2, 2), (6, 2, 10), (12, 2, 28), (20, 2, 60), (8, 3, 18)]
)
def test_noninteracting_closed_shells_are_exact(particles, dim, energy, omega):
    system, factor = _slater(particles, dim, omega)
    assert system.noninteracting_energy() == pytest.approx(energy * omega, rel=1e-14)
    x = _positions(system, walkers=20, spread=1.5)
    e_local = system.local_energy(*factor.grad_lap(factor.initial_params(None), x), x)
    np.testing.assert_allclose(e_local, system.noninteracting_energy(), rtol=0, atol=1e-10)


def test_without_the_envelope_a_gaussian_restores_the_orbitals():
    system, bare = _slater(6, 2, 0.5, alpha=1.2, envelope=False)
    full = Slater.from_spec(system, alpha=1.2)
    x = _positions(system)
    gaussian = -0.5 * 1.2 * 0.5 * np.sum(x * x, axis=(1, 2))
    np.testing.assert_allclose(bare.log_psi([1.2], x) + gaussian, full.log_psi([1.2], x))


@pytest.mark.parametrize("particles, dim", [(6, 2), (8, 3)])
def test_like_spin_exchange_flips_the_sign(particles, dim):
    system, factor = _slater(particles, dim, alpha=0.9)
    p = factor.initial_params(None)
    x = _positions(system, walkers=10)
    half = particles // 2
    for i, j in ((0, 1), (0, half - 1), (half, particles - 1)):
        swapped = x.copy()
        swapped[:, [i, j]] = x[:, [j, i]]
        np.testing.assert_allclose(factor.log_psi(p, swapped), factor.log_psi(p, x), rtol=1e-12)
        np.testing.assert_array_equal(factor.sign(p, swapped), -factor.sign(p, x))


@pytest.mark.parametrize("envelope", [True, False])
@pytest.mark.parametrize("particles, dim, spins", CASES)
def test_single_particle_moves_match_direct_evaluation(particles, dim, spins, envelope):
    system, factor = _slater(particles, dim, 0.9, spins, alpha=1.1, envelope=envelope)
    p = factor.initial_params(None)
    rng = np.random.default_rng(7)
    x = _positions(system, walkers=8)
    cache = factor.init_cache(p, x)
    for k in rng.integers(0, particles, size=3 * particles):
        xk = x[:, k] + 0.5 * system.length * rng.standard_normal((x.shape[0], dim))
        moved = x.copy()
        moved[:, k] = xk
        dlog, grad, data = factor.propose(p, x, cache, k, xk)
        new_log, new_grad = factor.log_psi_grad(p, moved)
        np.testing.assert_allclose(dlog, new_log - factor.log_psi(p, x), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grad, new_grad[:, k], rtol=1e-10, atol=1e-10)
        accepted = rng.random(x.shape[0]) < 0.5
        cache = factor.accept(p, x, cache, k, xk, accepted, data)
        x = np.where(accepted[:, None, None], moved, x)
        fresh = factor.init_cache(p, x)
        for b, b_fresh in zip(cache.inverses, fresh.inverses, strict=True):
            np.testing.assert_allclose(b, b_fresh, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            factor.grad_particle(p, x, cache, k),
            factor.log_psi_grad(p, x)[1][:, k],
            rtol=1e-10,
            atol=1e-10,
        )


def test_accept_leaves_the_given_cache_alone():
    system, factor = _slater(6, 2)
    p = factor.initial_params(None)
    x = _positions(system)
    cache = factor.init_cache(p, x)
    before = [b.copy() for b in cache.inverses]
    xk = x[:, 4] + 0.3
    _, _, data = factor.propose(p, x, cache, 4, xk)
    factor.accept(p, x, cache, 4, xk, np.ones(x.shape[0], dtype=bool), data)
    for b, b_before in zip(cache.inverses, before, strict=True):
        np.testing.assert_array_equal(b, b_before)


def test_bosons_and_elliptic_traps_are_refused():
    with pytest.raises(ConfigError, match="system.spins"):
        Slater.from_spec(HarmonicTrap(1.0, 6, 2, "none"))
    with pytest.raises(ConfigError, match="system.elliptic"):
        Slater.from_spec(HarmonicTrap(1.0, 6, 3, "none", elliptic=2.0, spins=(3, 3)))
