"""The spin-dependent Pade-Jastrow and the single-particle move protocol of the pair factors."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.errors import ConfigError
from nqsflow.vmc.factor import FACTORS
from nqsflow.vmc.geometry import pair_vectors
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.jastrow import HardSphereJastrow, PadeJastrow

from .finite_differences import numerical_grad_lap

H = 1e-4


def coordinate_errors(factor, p, x):
    """Largest |analytic - central difference| of the gradient and of the Laplacian."""
    grad, lap = factor.grad_lap(p, x)
    num_grad, num_lap = numerical_grad_lap(lambda y: factor.log_psi(p, y), x, H)
    return np.abs(grad - num_grad).max(), np.abs(lap - num_lap).max()


def parameter_error(factor, p, x, h=1e-5):
    """Largest |analytic - central difference| of d ln psi / d p."""
    analytic = factor.param_grad(p, x)
    assert analytic.shape == (x.shape[0], factor.n_params)
    numeric = np.empty_like(analytic)
    for k in range(p.size):
        dp = np.zeros_like(p)
        dp[k] = h
        numeric[:, k] = (factor.log_psi(p + dp, x) - factor.log_psi(p - dp, x)) / (2 * h)
    return np.abs(analytic - numeric).max()


def assert_moves_match(factor, p, x, rng, moves=16, step=0.6, core=None):
    """propose/accept over random moves and acceptance masks against direct evaluation.

    ``core`` (a radius): every third move puts some walkers' particle inside a hard
    core of another particle; those proposals must give dlog = -inf and a finite
    gradient, without floating-point errors.
    """
    walkers, n, dim = x.shape
    cache = factor.init_cache(p, x)
    for move in range(moves):
        k = int(rng.integers(n))
        log_psi, grad = factor.log_psi_grad(p, x)
        np.testing.assert_allclose(factor.grad_particle(p, x, cache, k), grad[:, k], atol=1e-11)
        xk = x[:, k] + step * rng.standard_normal((walkers, dim))
        inside = np.zeros(walkers, bool)
        if core is not None and move % 3 == 0:
            inside[::2] = True
            xk[inside] = x[inside, (k + 1) % n] + 0.5 * core / np.sqrt(dim)
        with np.errstate(all="raise"):
            dlog, new_grad, data = factor.propose(p, x, cache, k, xk)
        moved = x.copy()
        moved[:, k] = xk
        new_log, direct_grad = factor.log_psi_grad(p, moved)
        valid = np.isfinite(new_log)
        assert np.all(dlog[~valid] == -np.inf) and not np.any(valid & inside)
        assert np.all(np.isfinite(new_grad))
        np.testing.assert_allclose(dlog[valid], (new_log - log_psi)[valid], atol=1e-11)
        np.testing.assert_allclose(new_grad[valid], direct_grad[valid, k], atol=1e-11)
        accepted = (rng.random(walkers) < 0.6) & valid
        cache = factor.accept(p, x, cache, k, xk, accepted, data)
        x = np.where(accepted[:, None, None], moved, x)
    grad = factor.log_psi_grad(p, x)[1]
    for k in range(n):
        np.testing.assert_allclose(factor.grad_particle(p, x, cache, k), grad[:, k], atol=1e-11)


def _positions(walkers, particles, dim, seed=1, min_distance=0.1):
    """Walkers with every pair farther apart than ``min_distance`` (e.g. a hard core)."""
    x = np.random.default_rng(seed).normal(scale=0.9, size=(4 * walkers, particles, dim))
    x = x[pair_vectors(x)[1].min(1) > min_distance][:walkers]
    assert len(x) == walkers
    return x


def _dot(particles, dim, spins):
    return HarmonicTrap(0.8, particles, dim, "coulomb", spins=spins)


SPIN_CASES = [(6, 2, (3, 3)), (8, 3, (4, 4))]


@pytest.mark.parametrize(("particles", "dim", "spins"), SPIN_CASES)
def test_spin_pade_derivatives(particles, dim, spins):
    jastrow = PadeJastrow.from_spec(_dot(particles, dim, spins), beta_like=0.7, beta_unlike=0.3)
    assert jastrow.param_names() == ["log_beta_unlike", "log_beta_like"]
    p = jastrow.initial_params(None)
    np.testing.assert_allclose(np.exp(p), [0.3, 0.7])
    x = _positions(3, particles, dim)
    grad_error, lap_error = coordinate_errors(jastrow, p, x)
    assert grad_error < 1e-7 and lap_error < 1e-4
    assert parameter_error(jastrow, p, x) < 1e-8
    # the fused evaluations agree with the separate ones
    g, lap, dp = jastrow.local_terms(p, x)
    np.testing.assert_allclose(dp, jastrow.param_grad(p, x), rtol=1e-13)
    np.testing.assert_allclose(jastrow.log_psi_grad(p, x)[1], g, rtol=1e-13)


@pytest.mark.parametrize(("dim", "unlike", "like"), [(2, 1.0, 1 / 3), (3, 0.5, 0.25)])
def test_kato_cusp_per_spin_channel(dim, unlike, like):
    # spins (2, 1): the pair (0, 1) is like, (0, 2) and (1, 2) are unlike
    jastrow = PadeJastrow.from_spec(_dot(3, dim, (2, 1)), beta=0.9)
    p = jastrow.initial_params(None)
    slope = jastrow.du(p, np.zeros((1, 3)))[0][0]
    np.testing.assert_allclose(slope, [like, unlike, unlike], rtol=1e-15)
    # and in ln psi: bring one pair together, the others far apart
    eps = 1e-7
    for pair, cusp in (((0, 1), like), ((0, 2), unlike)):
        x = np.zeros((1, 3, dim))
        x[0, 3 - sum(pair), 0] = 1e6  # the third particle, far away
        base = jastrow.log_psi(p, x)
        x[0, pair[1], 1] = eps
        assert (jastrow.log_psi(p, x) - base)[0] / eps == pytest.approx(cusp, rel=1e-5)


def test_two_electrons_keep_one_beta_and_the_same_numbers():
    for dim, cusp in ((2, 1.0), (3, 0.5)):
        jastrow = FACTORS["pade_jastrow"].from_spec(_dot(2, dim, (1, 1)), beta=0.4)
        assert jastrow.param_names() == ["log_beta"] and jastrow.n_params == 1
        p = jastrow.initial_params(None)
        assert p.tolist() == [np.log(0.4)]
        x = _positions(7, 2, dim, min_distance=0.0)
        diff, r = pair_vectors(x)
        beta = np.exp(p[0])
        q = 1.0 / (1.0 + beta * r)
        # bit for bit the formulas of the spin-free code
        np.testing.assert_array_equal(jastrow.log_psi(p, x), (cusp * r / (1.0 + beta * r))[:, 0])
        d1 = cusp * q * q
        grad, lap = jastrow.grad_lap(p, x)
        field = (d1 / r)[..., None] * diff
        np.testing.assert_array_equal(grad, np.concatenate([field, -field], axis=1))
        np.testing.assert_array_equal(
            lap, 2.0 * np.sum(-2.0 * beta * d1 * q + (dim - 1) * d1 / r, axis=1)
        )
        np.testing.assert_array_equal(
            jastrow.param_grad(p, x),
            np.sum(-cusp * beta * (r / (1.0 + beta * r)) ** 2, axis=1)[:, None],
        )


def test_channels_that_occur_and_bad_options():
    polarised = PadeJastrow.from_spec(_dot(3, 2, (3, 0)))
    assert polarised.param_names() == ["log_beta"] and polarised.cusp == pytest.approx(1 / 3)
    bosons = PadeJastrow.from_spec(HarmonicTrap(1.0, 4, 3, "none"), cusp=0.2)
    assert bosons.param_names() == ["log_beta"] and bosons.cusp == 0.2
    with pytest.raises(ConfigError, match="bosons only"):
        PadeJastrow.from_spec(_dot(6, 2, (3, 3)), cusp=1.0)
    with pytest.raises(ConfigError, match="spins"):
        PadeJastrow.from_spec(HarmonicTrap(1.0, 4, 3, "none"), beta_like=0.3)


@pytest.mark.parametrize(("particles", "dim", "spins"), [*SPIN_CASES, (5, 3, None)])
def test_pade_moves_match_direct_evaluation(particles, dim, spins):
    system = _dot(particles, dim, spins) if spins else HarmonicTrap(1.0, particles, dim)
    options = {"beta_like": 0.7, "beta_unlike": 0.3} if spins else {"beta": 0.5}
    jastrow = PadeJastrow.from_spec(system, **options)
    rng = np.random.default_rng(4)
    assert_moves_match(jastrow, jastrow.initial_params(None), _positions(6, particles, dim), rng)


def test_hard_core_moves_are_rejected_not_nan():
    radius = 0.1
    jastrow = HardSphereJastrow(radius)
    rng = np.random.default_rng(5)
    x = _positions(8, 5, 3, seed=2, min_distance=radius)
    assert_moves_match(jastrow, np.zeros(0), x, rng, moves=12, step=0.3, core=radius)
