"""VMC physics: exact energies without interaction, the 2-electron dot, samplers, seeds."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from nqsflow.vmc.driver import VMC, run
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.optimizers import SGD, Schedule
from nqsflow.vmc.samplers import Langevin, Metropolis
from nqsflow.vmc.wavefunctions import Gaussian, ProductAnsatz


def _noninteracting(dim, omega, ansatz, sampler="langevin", steps=0):
    return {
        "system": {"particles": 2, "dim": dim, "omega": omega, "interaction": "none"},
        "ansatz": ansatz,
        "sampler": {"kind": sampler, "walkers": 200, "burn_in": 50, "thin": 2},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": steps, "samples": 1000},
        "production": {"samples": 20000},
        "seed": 3,
    }


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("omega", [0.5, 1.0, 2.0])
def test_noninteracting_gaussian_is_exact_with_zero_variance(dim, omega):
    result = run(_noninteracting(dim, omega, [{"kind": "gaussian", "alpha": 1.0}]))
    assert result.energy == pytest.approx(2 * dim * omega / 2, rel=1e-12)
    assert result.variance < 1e-20
    assert result.energy_error < 1e-10


@pytest.mark.parametrize("sampler", ["metropolis", "langevin"])
def test_noninteracting_rbm_at_zero_weights_is_exact(sampler):
    spec = _noninteracting(2, 0.7, [{"kind": "rbm", "hidden": 3, "init_std": 0.0}], sampler)
    result = run(spec)
    assert result.energy == pytest.approx(2 * 0.7, rel=1e-12)
    assert result.variance < 1e-20


def test_optimisation_finds_the_exact_gaussian():
    spec = _noninteracting(2, 1.0, [{"kind": "gaussian", "alpha": 0.6}], steps=120)
    result = run(spec)
    assert result.params_final[0] == pytest.approx(1.0, abs=0.01)
    assert result.energy == pytest.approx(2.0, abs=1e-4)
    assert result.history["energy"][0] > result.history["energy"][-1]


def test_two_electron_dot_with_pade_jastrow_reaches_three(dot_spec):
    result = run(dot_spec)
    # 3.0 is exact (Taut 1993); the Gaussian x Pade-Jastrow optimum lies about 4e-4 above
    assert abs(result.energy - 3.0) < 0.005
    assert result.energy > 3.0 - 3 * result.energy_error
    assert 0 < result.energy_error < 1e-3
    assert result.variance < 0.01


@pytest.mark.parametrize("moves", ["all", "single"])
@pytest.mark.parametrize("sampler_cls", [Metropolis, Langevin])
def test_samplers_draw_the_gaussian_density(sampler_cls, moves):
    # |psi|^2 = exp(-omega alpha r^2): each coordinate has variance 1/(2 alpha omega)
    omega, alpha = 0.8, 1.3
    system = HarmonicTrap(omega, 2, 3, "none")
    frozen = SGD(Schedule(initial=0.0))
    unit = system.length if sampler_cls is Metropolis else system.time
    vmc = VMC(system, ProductAnsatz([Gaussian(omega, alpha)]), sampler_cls(unit, moves=moves),
              frozen,
              walkers=500, thin=5)
    state, x = vmc.sample(vmc.init(4, 100), 500 * 200)
    second_moment = np.mean(x**2)
    expected = 1 / (2 * alpha * omega)
    # chains are correlated: allow 2 % (about 10 naive standard errors)
    assert second_moment == pytest.approx(expected, rel=0.02)
    assert 0.3 < state.walkers.acceptance < 0.95


def test_same_seed_same_numbers_other_seed_other_numbers(dot_spec):
    spec = copy.deepcopy(dot_spec)
    spec["optimizer"]["steps"] = 10
    spec["production"]["samples"] = 4000
    a, b = run(spec), run(spec)
    np.testing.assert_array_equal(a.history["energy"], b.history["energy"])
    assert a.energy == b.energy
    spec["seed"] += 1
    assert run(spec).energy != a.energy


@pytest.mark.parametrize(
    ("dim", "elliptic"), [(1, 1.0), (2, 1.0), (3, 1.0), (2, 2.0), (3, np.sqrt(8.0))]
)
@pytest.mark.parametrize("moves", ["all", "single"])
def test_noninteracting_bosons_isotropic_and_elliptic_are_exact(dim, elliptic, moves):
    spec = {
        "system": {"particles": 4, "dim": dim, "omega": 0.8, "interaction": "none",
                   "elliptic": elliptic},
        "ansatz": [{"kind": "gaussian", "alpha": 1.0, "beta": elliptic}],
        "sampler": {"kind": "metropolis", "moves": moves, "walkers": 100, "burn_in": 20},
        "optimizer": {"kind": "sr", "steps": 5, "samples": 500},
        "production": {"samples": 5000},
        "seed": 1,
    }
    result = run(spec)
    exact = 4 * 0.8 * (dim - 1 + elliptic) / 2
    trap = HarmonicTrap(0.8, 4, dim, "none", elliptic=elliptic)
    assert trap.noninteracting_energy() == pytest.approx(exact, rel=1e-15)
    assert result.energy == pytest.approx(exact, rel=1e-12)
    assert result.variance < 1e-18


def _dot(omega, ansatz, seed=1):
    return {
        "system": {"particles": 2, "dim": 2, "omega": omega, "interaction": "coulomb"},
        "ansatz": ansatz,
        "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 100, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.2, "steps": 600, "samples": 2000,
                      "diag_shift": 0.001, "schedule": "cosine", "final_learning_rate": 0.01},
        "production": {"samples": 200000},
        "seed": seed,
    }


RBM_PADE = [{"kind": "rbm", "hidden": 4, "init_std": 0.1}, {"kind": "pade_jastrow", "beta": 0.4}]


@pytest.mark.slow
@pytest.mark.parametrize(("omega", "exact"), [(1.0, 3.0), (0.5, None)])
def test_rbm_pade_with_sr_reaches_the_exact_dot_energy(omega, exact):
    from nqsflow.data import two_body_energy

    exact = exact if exact is not None else two_body_energy(omega)
    result = run(_dot(omega, RBM_PADE))
    assert abs(result.energy - exact) < 2e-4
    assert abs(result.energy - exact) < 3 * result.energy_error
    assert result.energy_error < 1e-4


def test_sr_solves_the_natural_gradient_system():
    from nqsflow.vmc.optimizers import StochasticReconfiguration

    rng = np.random.default_rng(0)
    o = rng.standard_normal((500, 3))
    metric = np.cov(o.T, bias=True)
    gradient = rng.standard_normal(3)
    sr = StochasticReconfiguration(Schedule(initial=0.5), diag_shift=0.1)
    new, state = sr.update(np.zeros(3), gradient, sr.init(np.zeros(3)), metric)
    np.testing.assert_allclose((metric + 0.1 * np.eye(3)) @ (-new / 0.5), gradient / 2)
    assert int(state["t"]) == 1
    with pytest.raises(ValueError, match="metric"):
        sr.update(np.zeros(3), gradient, state)


@pytest.mark.parametrize("kind", ["constant", "exponential", "cosine", "inverse_time"])
def test_schedules_start_at_the_initial_rate_and_decay(kind):
    schedule = Schedule(kind, initial=0.1, final=0.01, decay_steps=50)
    assert schedule(0) == pytest.approx(0.1)
    rates = [schedule(t) for t in range(80)]
    assert all(b <= a + 1e-15 for a, b in zip(rates, rates[1:], strict=False))
    if kind in ("exponential", "cosine"):
        assert schedule(50) == pytest.approx(0.01) and schedule(79) == pytest.approx(0.01)


def test_convergence_criterion_stops_early():
    spec = _noninteracting(2, 1.0, [{"kind": "gaussian", "alpha": 0.8}], steps=500)
    spec["optimizer"].update(kind="sr", learning_rate=0.2, convergence={"window": 10,
                                                                        "tolerance": 1e-6})
    result = run(spec)
    assert 20 <= result.converged_at < 500
    assert len(result.history["energy"]) == result.converged_at
    assert result.params_final[0] == pytest.approx(1.0, abs=1e-3)


def test_density_histograms_match_the_gaussian(tmp_path):
    # one particle in 2D at alpha = 1: radial density 2 omega r exp(-omega r^2)
    spec = _noninteracting(2, 0.5, [{"kind": "gaussian", "alpha": 1.0}])
    spec["production"] = {"samples": 100000, "bins": 40}
    result = run(spec)
    h = result.histograms
    edges, counts = h["radial_edges"], h["radial_counts"]
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (counts.sum() * np.diff(edges))
    expected = 2 * 0.5 * centres * np.exp(-0.5 * centres**2)
    assert np.max(np.abs(density - expected)) < 0.03
    assert counts.sum() == 2 * 100000  # both particles, every sample
    assert h["pair_counts"].sum() == 100000


def test_hard_sphere_bosons_never_overlap():
    spec = {
        "system": {"particles": 5, "dim": 3, "omega": 1.0, "interaction": "hard_sphere",
                   "radius": 0.3},
        "ansatz": [{"kind": "gaussian"}, {"kind": "hard_sphere_jastrow"}],
        "sampler": {"kind": "langevin", "walkers": 100, "burn_in": 50, "thin": 2},
        "optimizer": {"kind": "adam", "learning_rate": 0.02, "steps": 20, "samples": 500},
        "production": {"samples": 10000, "bins": 50},
        "seed": 8,
    }
    result = run(spec)
    edges, counts = result.histograms["pair_edges"], result.histograms["pair_counts"]
    assert counts[edges[1:] <= 0.3].sum() == 0
    # the hard cores push the bosons apart: above the non-interacting 7.5
    assert result.energy > 7.5 + 5 * result.energy_error


def test_walker_streams_split_over_ranks_draw_the_same_numbers():
    from nqsflow.vmc.streams import WalkerStreams

    whole = WalkerStreams(7, walkers=6, block_size=2, rank=0)
    halves = [WalkerStreams(7, walkers=2, block_size=2, rank=r)
              for r in range(3)]
    for _ in range(3):
        draws = whole.standard_normal((6, 2, 3))
        parts = np.concatenate([h.standard_normal((2, 2, 3)) for h in halves])
        np.testing.assert_array_equal(draws, parts)
        uniform = np.concatenate([h.random(2) for h in halves])
        np.testing.assert_array_equal(whole.random(6), uniform)
    saved = whole.state
    first = whole.random(6)
    whole.state = saved
    np.testing.assert_array_equal(whole.random(6), first)
    from nqsflow.errors import ConfigError

    with pytest.raises(ConfigError, match="block_size"):  # a user's error: one line, no traceback
        WalkerStreams(7, walkers=5, block_size=2, rank=0)
