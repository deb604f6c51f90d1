"""The backflow Slater factor: derivatives against finite differences, the plain determinant
at eta = 0, antisymmetry, the exact non-interacting shell, and a run through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.config import validate
from nqsflow.vmc.backflow import SlaterBackflow, orbital_hessians
from nqsflow.vmc.driver import run
from nqsflow.vmc.factor import FACTORS
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.orbitals import HermiteOrbitals
from nqsflow.vmc.slater import Slater
from nqsflow.vmc.wavefunctions import build_ansatz

H = 1e-4


def _system(particles, dim, omega=0.7, interaction="coulomb"):
    return HarmonicTrap(omega, particles, dim, interaction, spins=(particles // 2,) * 2)


def _backflowed(system, seed=3, terms=2, scale=0.2):
    # a factor with eta switched on in both spin channels (two Pade terms each)
    factor = SlaterBackflow.from_spec(system, terms=terms, alpha=0.9)
    rng = np.random.default_rng(seed)
    p = factor.initial_params(rng) + scale * rng.standard_normal(factor.n_params)
    return factor, p


def _positions(system, factor, p, walkers=4, seed=5):
    # walkers away from the nodes of psi, where finite differences lose their digits
    rng = np.random.default_rng(seed)
    x = system.length * rng.standard_normal((40 * walkers, *system.shape))
    x = x[np.abs(factor.log_psi_grad(p, x)[1]).max(axis=(1, 2)) < 5.0][:walkers]
    assert len(x) == walkers
    return x


def test_registered_and_its_options_validated():
    assert FACTORS["slater_backflow"] is SlaterBackflow
    spec = {
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [
            {"kind": "slater_backflow", "terms": 2, "eta_like": 0.1},
            {"kind": "pade_jastrow"},
        ],
        "sampler": {"kind": "langevin", "walkers": 10, "step": 0.3, "burn_in": 5, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 1, "samples": 10},
        "production": {"samples": 10},
        "seed": 1,
    }
    validate(spec, "runspec")
    wf = build_ansatz(spec["ansatz"], _system(6, 2))
    assert wf.param_names()[:5] == [
        "slater_backflow.alpha",
        "slater_backflow.eta_a_unlike[0]",
        "slater_backflow.eta_a_unlike[1]",
        "slater_backflow.eta_a_like[0]",
        "slater_backflow.eta_a_like[1]",
    ]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_orbital_hessians_against_finite_differences(dim):
    orbitals = HermiteOrbitals(dim, 10, omega=0.8)
    y = np.random.default_rng(4).normal(size=(3, dim))
    values, grads, hess = orbital_hessians(orbitals, 1.3, y)
    ref = orbitals.derivatives(1.3, y)
    np.testing.assert_allclose(values, ref[0], rtol=1e-14)
    np.testing.assert_allclose(grads, ref[1], rtol=1e-14)
    np.testing.assert_allclose(np.trace(hess, axis1=-3, axis2=-2), ref[2], rtol=1e-12, atol=1e-12)
    for a in range(dim):
        step = np.zeros(dim)
        step[a] = H
        num = (orbitals.derivatives(1.3, y + step)[1] - orbitals.derivatives(1.3, y - step)[1])
        np.testing.assert_allclose(hess[..., a, :], num / (2 * H), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("particles", "dim"), [(6, 2), (8, 3)])
def test_derivatives_against_finite_differences(particles, dim):
    system = _system(particles, dim)
    factor, p = _backflowed(system)
    x = _positions(system, factor, p)
    grad, lap, dp = factor.local_terms(p, x)
    f0 = factor.log_psi(p, x)
    num_grad, num_lap = np.zeros_like(x), np.zeros(x.shape[0])
    for i in range(particles):
        for a in range(dim):
            step = np.zeros_like(x)
            step[:, i, a] = H
            fp, fm = factor.log_psi(p, x + step), factor.log_psi(p, x - step)
            num_grad[:, i, a] = (fp - fm) / (2 * H)
            num_lap += (fp - 2 * f0 + fm) / H**2
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lap, num_lap, rtol=1e-5, atol=1e-4)
    eye = np.eye(p.size)
    num_dp = np.stack(
        [(factor.log_psi(p + H * e, x) - factor.log_psi(p - H * e, x)) / (2 * H) for e in eye],
        axis=1,
    )
    np.testing.assert_allclose(dp, num_dp, rtol=1e-5, atol=1e-5)
    # the separate evaluations agree with the fused one
    log_psi, g1 = factor.log_psi_grad(p, x)
    g2, l2 = factor.grad_lap(p, x)
    np.testing.assert_allclose(log_psi, f0, rtol=1e-13)
    np.testing.assert_allclose(g1, grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g2, grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(l2, lap, rtol=1e-12)
    np.testing.assert_allclose(factor.param_grad(p, x), dp, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("particles", "dim"), [(6, 2), (8, 3)])
def test_without_backflow_it_is_the_slater_determinant(particles, dim):
    system = _system(particles, dim)
    factor = SlaterBackflow.from_spec(system, alpha=0.9, terms=2)
    slater = Slater.from_spec(system, alpha=0.9)
    p, q = factor.initial_params(None), slater.initial_params(None)
    assert np.all(p[1 : 1 + 4] == 0.0)  # eta = 0 at the start
    x = system.length * np.random.default_rng(2).standard_normal((6, *system.shape))
    np.testing.assert_allclose(factor.log_psi(p, x), slater.log_psi(q, x), rtol=1e-14)
    np.testing.assert_array_equal(factor.sign(p, x), slater.sign(q, x))
    grad, lap, dp = factor.local_terms(p, x)
    ref = slater.local_terms(q, x)
    np.testing.assert_allclose(grad, ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lap, ref[1], rtol=1e-12)
    np.testing.assert_allclose(dp[:, :1], ref[2], rtol=1e-12)


@pytest.mark.parametrize(("particles", "dim"), [(6, 2), (8, 3)])
def test_like_spin_exchange_flips_the_sign(particles, dim):
    system = _system(particles, dim)
    factor, p = _backflowed(system, scale=0.5)
    x = system.length * np.random.default_rng(7).standard_normal((5, *system.shape))
    half = particles // 2
    for i, j in [(0, 1), (1, half - 1), (half, particles - 1)]:
        swapped = x.copy()
        swapped[:, [i, j]] = x[:, [j, i]]
        np.testing.assert_allclose(factor.log_psi(p, swapped), factor.log_psi(p, x), rtol=1e-12)
        np.testing.assert_array_equal(factor.sign(p, swapped), -factor.sign(p, x))
    # an up and a down electron exchanged: no symmetry, psi changes
    swapped = x.copy()
    swapped[:, [0, half]] = x[:, [half, 0]]
    assert not np.allclose(factor.log_psi(p, swapped), factor.log_psi(p, x))


def test_noninteracting_shell_is_exact_at_eta_zero():
    system = _system(6, 2, omega=1.0, interaction="none")
    factor = SlaterBackflow.from_spec(system)
    p = factor.initial_params(None)
    x = 1.5 * np.random.default_rng(1).standard_normal((20, 6, 2))
    e_local = system.local_energy(*factor.grad_lap(p, x), x)
    np.testing.assert_allclose(e_local, 10.0, rtol=1e-11)
    # and through the engine: sampler, caches, optimiser (zero gradient: eta stays 0)
    spec = {
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "none",
                   "spins": [3, 3]},
        "ansatz": [{"kind": "slater_backflow"}],
        "sampler": {"kind": "langevin", "moves": "single", "walkers": 30, "burn_in": 10,
                    "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 2, "samples": 100},
        "production": {"samples": 300},
        "seed": 4,
    }
    result = run(spec)
    assert result.energy == pytest.approx(10.0, rel=1e-10)
    assert result.variance < 1e-16


def test_local_energy_finite_where_electrons_meet():
    system = _system(6, 2, omega=1.0)
    wf = build_ansatz(
        [{"kind": "slater_backflow", "eta_like": 0.1, "eta_unlike": 0.05},
         {"kind": "pade_jastrow"}], system
    )
    p = wf.initial_params(None)
    x = np.random.default_rng(3).standard_normal((3, 6, 2))
    for i, j in [(0, 3), (0, 1)]:  # unlike, then like spins
        energies = []
        for gap in (1e-3, 1e-5):
            y = x.copy()
            y[:, j] = y[:, i] + gap * np.array([0.6, 0.8])
            energies.append(system.local_energy(*wf.grad_lap(p, y), y))
        assert np.all(np.isfinite(energies))
        np.testing.assert_allclose(energies[0], energies[1], rtol=0.05, atol=0.1)
