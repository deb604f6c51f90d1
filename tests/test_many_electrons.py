"""Many-electron quantum dots through the whole engine: exact shells, antisymmetry, cusps.

The non-interacting closed shells must come out exactly, with zero variance,
from a full run (sampler, single-particle caches, optimiser, production); the
product ansatz must change sign under like-spin exchange; and the local energy
must stay finite where two electrons meet, like or unlike spin, because the
Pade-Jastrow carries Kato's cusp for each channel.
"""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.vmc.driver import build_vmc, run
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.wavefunctions import build_ansatz

from .restarts import assert_restart_is_bit_identical

SLATER_JASTROW = [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.5}]
NEURAL = [*SLATER_JASTROW, {"kind": "neural_jastrow", "init_std": 0.3}]


@pytest.mark.parametrize(("particles", "exact", "sampler"), [
    (2, 2.0, "langevin"), (6, 10.0, "langevin"), (12, 28.0, "metropolis"), (20, 60.0, "langevin"),
])
def test_noninteracting_closed_shells_are_exact_with_zero_variance(particles, exact, sampler):
    spec = {
        "system": {"particles": particles, "dim": 2, "omega": 1.0, "interaction": "none",
                   "spins": [particles // 2, particles // 2]},
        "ansatz": [{"kind": "slater"}],
        "sampler": {"kind": sampler, "moves": "single", "walkers": 50, "burn_in": 20, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 3, "samples": 200},
        "production": {"samples": 1000},
        "seed": 4,
    }
    result = run(spec)
    assert result.energy == pytest.approx(exact, rel=1e-10)
    assert result.variance < 1e-16
    assert result.params_final[0] == pytest.approx(1.0, abs=1e-12)  # the exact width stays


@pytest.mark.parametrize("ansatz", [SLATER_JASTROW, NEURAL], ids=["slater-jastrow", "neural"])
def test_like_spin_exchange_flips_the_sign_of_the_product(ansatz):
    system = HarmonicTrap(1.0, 6, 2, "coulomb", spins=(3, 3))
    wf = build_ansatz(ansatz, system)
    p = wf.initial_params(np.random.default_rng(1))
    x = system.initial_positions(np.random.default_rng(2), 5)
    for i, j in [(0, 2), (1, 2), (3, 5)]:
        swapped = x.copy()
        swapped[:, [i, j]] = x[:, [j, i]]
        np.testing.assert_allclose(wf.log_psi(p, swapped), wf.log_psi(p, x), atol=1e-12)
        np.testing.assert_array_equal(wf.sign(p, swapped), -wf.sign(p, x))
    # an up and a down electron are distinguishable: no symmetry is imposed
    swapped = x.copy()
    swapped[:, [1, 4]] = x[:, [4, 1]]
    assert np.abs(wf.log_psi(p, swapped) - wf.log_psi(p, x)).max() > 1e-3


def _local_energy_as_pair_meets(ansatz, dim, particles, spins, i, j, distances):
    system = HarmonicTrap(1.0, particles, dim, "coulomb", spins=spins)
    vmc = build_vmc({
        "system": {"particles": particles, "dim": dim, "omega": 1.0, "interaction": "coulomb",
                   "spins": list(spins)},
        "ansatz": ansatz,
        "sampler": {"kind": "metropolis"},
        "optimizer": {"kind": "sgd"},
        "production": {"samples": 1},
        "seed": 3,
    })
    p = vmc.ansatz.initial_params(np.random.default_rng(0))
    x = system.initial_positions(np.random.default_rng(7), 1)
    direction = np.ones(dim) / np.sqrt(dim)
    configs = []
    for r in distances:
        y = x.copy()
        y[0, j] = y[0, i] + r * direction
        configs.append(y[0])
    return vmc.local_energy(p, np.array(configs))


@pytest.mark.parametrize(("dim", "particles", "spins"), [(2, 6, (3, 3)), (3, 8, (4, 4))])
@pytest.mark.parametrize(("i", "j", "channel"), [(0, 1, "like"), (0, 5, "unlike")])
def test_local_energy_stays_finite_where_electrons_meet(dim, particles, spins, i, j, channel):
    distances = np.array([1e-3, 1e-4, 1e-5, 1e-6])
    energy = _local_energy_as_pair_meets(NEURAL, dim, particles, spins, i, j, distances)
    assert np.all(np.isfinite(energy))
    # a missing or wrong cusp leaves a c / r term: 1e3 .. 1e6 here
    assert np.ptp(energy) < 0.05, (channel, energy)
    without_cusp = _local_energy_as_pair_meets(
        [{"kind": "slater"}], dim, particles, spins, i, j, distances
    )
    assert np.ptp(without_cusp) > 1e4  # the test can fail: the bare determinant diverges


@pytest.mark.parametrize("sampler", ["langevin", "metropolis"])
def test_restart_of_a_fermion_run_with_caches_is_bit_identical(sampler, tmp_path):
    spec = {
        "system": {"particles": 6, "dim": 2, "omega": 0.5, "interaction": "coulomb"},
        "ansatz": NEURAL,
        "sampler": {"kind": sampler, "moves": "single", "walkers": 40, "burn_in": 10, "thin": 2},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "steps": 6, "samples": 160,
                      "clip_local_energy": 5.0},
        "production": {"samples": 800},
        "seed": 9,
    }
    assert_restart_is_bit_identical(spec, tmp_path)


@pytest.mark.parametrize("name", ["dot-n6.yaml", "bosons-elliptic.yaml"])
def test_example_run_specs_are_valid_and_build(name):
    from pathlib import Path

    from nqsflow.config import load_runspec

    spec = load_runspec(Path(__file__).resolve().parents[1] / "config" / "examples" / name)
    vmc = build_vmc(spec)
    state = vmc.init(spec["seed"], 2)  # a few sweeps: the ansatz evaluates where walkers start
    assert np.all(np.isfinite(vmc.ansatz.log_psi(state.params, state.walkers.positions)))


def test_fermions_with_nodes_default_to_single_particle_sweeps_with_a_drift_limit():
    from nqsflow.vmc.samplers import build_sampler

    six = HarmonicTrap(1.0, 6, 2, "coulomb", spins=(3, 3))
    sampler = build_sampler({"kind": "langevin"}, six)
    assert (sampler.moves, sampler.drift_limit) == ("single", 1.0)
    assert build_sampler({"kind": "metropolis"}, six).moves == "single"
    # two electrons of opposite spin have no node: the 2-electron studies keep their moves
    two = HarmonicTrap(1.0, 2, 2, "coulomb", spins=(1, 1))
    sampler = build_sampler({"kind": "langevin"}, two)
    assert (sampler.moves, sampler.drift_limit) == ("all", 0.0)
    assert build_sampler({"kind": "langevin", "moves": "all", "drift_limit": 0}, six).moves == "all"
