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


@pytest.mark.parametrize("sampler_cls", [Metropolis, Langevin])
def test_samplers_draw_the_gaussian_density(sampler_cls):
    # |psi|^2 = exp(-omega alpha r^2): each coordinate has variance 1/(2 alpha omega)
    omega, alpha = 0.8, 1.3
    system = HarmonicTrap(omega, 2, 3, "none")
    frozen = SGD(Schedule(initial=0.0))
    vmc = VMC(system, ProductAnsatz([Gaussian(omega, alpha)]), sampler_cls(omega), frozen,
              seed=4, walkers=500, thin=5)
    vmc.start(100)
    x = vmc.sample(500 * 200)
    second_moment = np.mean(x**2)
    expected = 1 / (2 * alpha * omega)
    # chains are correlated: allow 2 % (about 10 naive standard errors)
    assert second_moment == pytest.approx(expected, rel=0.02)
    assert 0.3 < vmc._acceptance() < 0.95


def test_same_seed_same_numbers_other_seed_other_numbers(dot_spec):
    spec = copy.deepcopy(dot_spec)
    spec["optimizer"]["steps"] = 10
    spec["production"]["samples"] = 4000
    a, b = run(spec), run(spec)
    np.testing.assert_array_equal(a.history["energy"], b.history["energy"])
    assert a.energy == b.energy
    spec["seed"] += 1
    assert run(spec).energy != a.energy
