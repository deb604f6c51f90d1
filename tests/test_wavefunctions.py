"""Analytic derivatives of every factor against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.vmc.geometry import pair_vectors
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.wavefunctions import (
    RBM,
    Gaussian,
    HardSphereJastrow,
    PadeJastrow,
    ProductAnsatz,
    build_ansatz,
)

from .finite_differences import numerical_grad_lap

H = 1e-4


def _factors(particles, dim, omega):
    rng = np.random.default_rng(3)
    rbm = RBM(particles, dim, omega, hidden=3, sigma=1.1, init_std=0.3)
    return [
        (Gaussian(omega, alpha=0.9), None),
        (PadeJastrow(dim, beta=0.6), None),
        (rbm, rbm.initial_params(rng)),
        (Gaussian(omega, alpha=0.9, beta=2.2), None),
        (HardSphereJastrow(radius=0.05), None),
    ]


def _params(factor, params):
    if params is not None:
        return params
    return factor.initial_params(np.random.default_rng(0)) + 0.05


def _positions(particles, dim, walkers=5, seed=1, min_distance=0.0):
    x = np.random.default_rng(seed).normal(scale=0.9, size=(walkers, particles, dim))
    assert pair_vectors(x)[1].min() > min_distance  # e.g. outside a test factor's hard core
    return x


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("which", range(5))
def test_coordinate_gradient_and_laplacian(dim, which):
    particles, omega = 3, 0.7
    factor, params = _factors(particles, dim, omega)[which]
    p = _params(factor, params)
    x = _positions(particles, dim, min_distance=0.1)
    grad, lap = factor.grad_lap(p, x)
    num_grad, num_lap = numerical_grad_lap(lambda y: factor.log_psi(p, y), x, H)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lap, num_lap, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("which", range(5))
def test_parameter_gradient(which):
    particles, dim, omega = 2, 2, 1.3
    factor, params = _factors(particles, dim, omega)[which]
    p = _params(factor, params)
    x = _positions(particles, dim, min_distance=0.1)
    analytic = factor.param_grad(p, x)
    assert analytic.shape == (x.shape[0], factor.n_params)
    for k in range(factor.n_params):
        dp = np.zeros_like(p)
        dp[k] = H
        numeric = (factor.log_psi(p + dp, x) - factor.log_psi(p - dp, x)) / (2 * H)
        np.testing.assert_allclose(analytic[:, k], numeric, rtol=1e-6, atol=1e-8)


def test_product_adds_logs_and_slices_parameters():
    system = HarmonicTrap(1.0, 2, 2, "coulomb")
    spec = [{"kind": "rbm", "hidden": 2, "init_std": 0.2}, {"kind": "pade_jastrow", "beta": 0.3}]
    ansatz = build_ansatz(spec, system)
    p = ansatz.initial_params(np.random.default_rng(5))
    assert ansatz.n_params == 4 + 2 + 8 + 1 == len(ansatz.param_names())
    x = _positions(2, 2)
    rbm, jastrow = ansatz.factors
    np.testing.assert_allclose(
        ansatz.log_psi(p, x), rbm.log_psi(p[:14], x) + jastrow.log_psi(p[14:], x)
    )
    np.testing.assert_allclose(
        ansatz.param_grad(p, x),
        np.concatenate([rbm.param_grad(p[:14], x), jastrow.param_grad(p[14:], x)], axis=1),
    )


def test_pade_jastrow_has_the_coulomb_cusp():
    # d ln psi / dr at r -> 0 must be 1/(d-1) to cancel 1/r in 2D and 3D
    for dim, cusp in ((2, 1.0), (3, 0.5)):
        jastrow = PadeJastrow(dim, beta=0.8)
        p = jastrow.initial_params(None)
        r = 1e-6
        x = np.zeros((1, 2, dim))
        x[0, 1, 0] = r
        assert jastrow.log_psi(p, x)[0] / r == pytest.approx(cusp, rel=1e-5)


def test_local_energy_of_exact_state_is_constant():
    for dim in (1, 2, 3):
        system = HarmonicTrap(0.5, 3, dim, "none")
        ansatz = ProductAnsatz([Gaussian(0.5, alpha=1.0)])
        p = ansatz.initial_params(None)
        x = _positions(3, dim, walkers=50)
        e_local = system.local_energy(*ansatz.grad_lap(p, x), x)
        np.testing.assert_allclose(e_local, 0.5 * 3 * dim * 0.5, rtol=1e-13)


@pytest.mark.parametrize("which", range(5))
def test_fused_evaluations_agree_with_the_separate_ones(which):
    factor, params = _factors(3, 3, 0.7)[which]
    p = _params(factor, params)
    x = _positions(3, 3, min_distance=0.1)
    log_psi, grad = factor.log_psi_grad(p, x)
    np.testing.assert_allclose(log_psi, factor.log_psi(p, x), rtol=1e-13)
    g, l, o = factor.local_terms(p, x)
    g2, l2 = factor.grad_lap(p, x)
    np.testing.assert_allclose(grad, g2, rtol=1e-13)
    np.testing.assert_allclose(g, g2, rtol=1e-13)
    np.testing.assert_allclose(l, l2, rtol=1e-13)
    np.testing.assert_allclose(o, factor.param_grad(p, x), rtol=1e-13)


def test_hard_core_has_zero_amplitude():
    jastrow = HardSphereJastrow(radius=0.5)
    x = np.zeros((2, 2, 3))
    x[0, 1, 0] = 0.4  # overlapping
    x[1, 1, 0] = 0.6
    log_psi = jastrow.log_psi(np.zeros(0), x)
    assert log_psi[0] == -np.inf
    assert log_psi[1] == pytest.approx(np.log(1 - 0.5 / 0.6))


def test_elliptic_gaussian_is_exact_in_an_elliptic_trap():
    lam = np.sqrt(8.0)
    system = HarmonicTrap(1.3, 4, 3, "none", elliptic=lam)
    ansatz = ProductAnsatz([Gaussian(1.3, alpha=1.0, beta=lam)])
    p = ansatz.initial_params(None)
    x = _positions(4, 3, walkers=20)
    e_local = system.local_energy(*ansatz.grad_lap(p, x), x)
    np.testing.assert_allclose(e_local, 4 * 1.3 * (2 + lam) / 2, rtol=1e-13)


def test_hard_sphere_interaction_requires_the_hard_core_factor():
    from nqsflow.errors import ConfigError

    system = HarmonicTrap(1.0, 3, 3, "hard_sphere", radius=0.01)
    with pytest.raises(ConfigError, match="hard_sphere_jastrow"):
        build_ansatz([{"kind": "gaussian"}], system)


def test_softplus_and_sigmoid_are_stable_for_large_fields():
    from scipy.special import expit

    from nqsflow.vmc.rbm import softplus_sigmoid

    z = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0])
    softplus, sigmoid = softplus_sigmoid(z)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(softplus, np.logaddexp(0.0, z), rtol=1e-15)
    np.testing.assert_allclose(sigmoid, expit(z), rtol=1e-15)
    assert np.all(np.isfinite(softplus)) and np.all(np.isfinite(sigmoid))


@pytest.mark.parametrize("which", [0, 2, 3])
@pytest.mark.parametrize("dim", [2, 3])
def test_one_body_factors_single_particle_moves(which, dim):
    # the Gaussian (isotropic, elliptic) and the RBM against direct evaluation
    from .test_jastrow import assert_moves_match

    factor, params = _factors(4, dim, 0.7)[which]
    p = _params(factor, params)
    rng = np.random.default_rng(11)
    assert_moves_match(factor, p, _positions(4, dim, walkers=6), rng, moves=20)
