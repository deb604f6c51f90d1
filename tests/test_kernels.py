"""The fused numba kernels (vmc/kernels.py, vmc/fused.py) against the numpy reference.

The kernels must give the numpy factors' ln psi, gradient, Laplacian and E_L to
round-off, and, since they draw the same random numbers in the same order, the
same chains: production energies, acceptance counts and histograms of both
paths agree to round-off over a short run.  Four products cover every kernel
(Gaussian isotropic and elliptic, RBM, Pade-Jastrow with one and two spin
channels, hard sphere, Slater determinants in 2D and 3D with and without their
Gaussian, neural Jastrows with one and two spin channels, deep and shallow
networks and a linear rho) and every kind of move (all-particle and
single-particle, Metropolis and Langevin with a drift limit).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from nqsflow.vmc.driver import VMC
from nqsflow.vmc.fused import build_kernels
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.optimizers import build_optimizer
from nqsflow.vmc.samplers import Langevin, Metropolis
from nqsflow.vmc.wavefunctions import (
    RBM,
    Gaussian,
    HardSphereJastrow,
    NeuralJastrow,
    PadeJastrow,
    ProductAnsatz,
    Slater,
)

from .restarts import assert_restart_is_bit_identical

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_on(monkeypatch):
    # the suite's default is the numpy path (conftest.py)
    monkeypatch.setenv("NQSFLOW_KERNELS", "1")


def _dot():
    system = HarmonicTrap(1.0, 2, 2, "coulomb", spins=(1, 1))
    factors = [RBM.from_spec(system, hidden=4, init_std=0.1), PadeJastrow.from_spec(system)]
    return system, factors, Langevin(system.time, 0.3)


# a neural Jastrow with a hidden layer before phi's and psi's features and two in rho
DEEP = {"hidden": [3], "features": 4, "rho_hidden": [5, 4]}


def _electrons():
    # six electrons, both spin channels: determinants without their Gaussian, which
    # the Gaussian factor gives instead
    system = HarmonicTrap(0.7, 6, 2, "coulomb", spins=(3, 3))
    factors = [
        Slater.from_spec(system, alpha=1.1, envelope=False),
        Gaussian.from_spec(system, alpha=0.9),
        RBM.from_spec(system, hidden=3, init_std=0.1),
        PadeJastrow.from_spec(system),
        NeuralJastrow.from_spec(system, **DEEP),
    ]
    return system, factors, Langevin(system.time, 0.3, "single", drift_limit=1.0)


def _electrons_3d():
    # eight electrons in 3D (s and p shells of both spins), all-particle moves
    system = HarmonicTrap(1.0, 8, 3, "coulomb", spins=(4, 4))
    factors = [Slater.from_spec(system, alpha=0.95), PadeJastrow.from_spec(system),
               NeuralJastrow.from_spec(system, features=3, rho_hidden=[])]  # rho linear
    return system, factors, Metropolis(system.length, 0.25)


def _bosons():
    system = HarmonicTrap(1.0, 4, 3, "hard_sphere", radius=0.3, elliptic=np.sqrt(8.0))
    factors = [Gaussian.from_spec(system, alpha=1.0, beta=2.8), HardSphereJastrow.from_spec(system),
               NeuralJastrow.from_spec(system, features=3, rho_hidden=[4])]  # one channel
    return system, factors, Metropolis(system.length, 0.8, "single")


CASES = {"dot-langevin-all": _dot, "electrons-langevin-single": _electrons,
         "electrons-3d-metropolis-all": _electrons_3d, "bosons-metropolis-single": _bosons}


def _vmc(case: str, kernels: bool, walkers: int = 64) -> VMC:
    system, factors, sampler = CASES[case]()
    optimizer = build_optimizer({"kind": "sr", "learning_rate": 0.1})
    return VMC(system, ProductAnsatz(factors), sampler, optimizer, walkers=walkers, thin=2,
               block_size=walkers // 2, kernels=kernels)


def _params(vmc: VMC) -> np.ndarray:
    # the neural Jastrow starts at J = 1 (rho's last layer 0): the noise makes it count
    p = vmc.ansatz.initial_params(np.random.default_rng(3))
    return p + 0.05 * np.random.default_rng(4).standard_normal(p.size)


@pytest.mark.parametrize("case", sorted(CASES), ids=str)
def test_kernels_give_the_numpy_log_psi_gradient_and_local_energy(case):
    vmc = _vmc(case, kernels=True)
    kernels = vmc.kernels()
    assert kernels is not None
    p = _params(vmc)
    x = vmc.hamiltonian.initial_positions(np.random.default_rng(5), 50)
    log_psi, grad, lap, e_local = kernels.evaluate(p, x)
    ref_log, ref_grad = vmc.ansatz.log_psi_grad(p, x)
    ref_lap = vmc.ansatz.grad_lap(p, x)[1]
    np.testing.assert_allclose(log_psi, ref_log, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lap, ref_lap, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e_local, vmc.local_energy(p, x), rtol=1e-12, atol=1e-12)
    energy, o = kernels.local_terms(p, x)  # what an SR step takes: E_L and d ln psi / d p
    ref_energy, ref_o = vmc.local_energy_and_derivatives(p, x)
    np.testing.assert_allclose(energy, ref_energy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(o, ref_o, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES), ids=str)
def test_kernel_optimisation_runs_the_numpy_chains(case):
    runs = []
    for kernels in (True, False):
        vmc = _vmc(case, kernels)
        state = vmc.init(seed=11, burn_in_sweeps=10)
        history = []
        for _ in range(4):  # moves, E_L and O, the SR update, the walkers' refresh
            state, stats = vmc.step(state, 2 * vmc.walkers)
            history.append([stats.energy, stats.variance, stats.acceptance, *stats.gradient])
        state, result = vmc.produce(state, 5 * vmc.walkers, bins=10)
        runs.append((state, np.array(history), result))
    (a, ha, ra), (b, hb, rb) = runs
    np.testing.assert_allclose(ha, hb, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.walkers.positions, b.walkers.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ra["energy_series"], rb["energy_series"], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("case", sorted(CASES), ids=str)
def test_kernel_production_runs_the_numpy_chains(case):
    runs = []
    for kernels in (True, False):
        vmc = _vmc(case, kernels)
        state = vmc.init(seed=7, burn_in_sweeps=20)
        state.params = _params(vmc)
        state.walkers = vmc.sampler.refresh(state.walkers, vmc.wf(state))
        state, samples = vmc.sample(state, 3 * vmc.walkers)
        state, result = vmc.produce(state, 40 * vmc.walkers, bins=20)
        runs.append((state, samples, result))
    (a, xa, ra), (b, xb, rb) = runs
    np.testing.assert_allclose(xa, xb, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ra["energy_series"], rb["energy_series"], rtol=1e-10, atol=1e-10)
    assert ra["acceptance"] == rb["acceptance"]
    for key in ("radial_counts", "pair_counts"):
        np.testing.assert_array_equal(ra["histograms"][key], rb["histograms"][key])
    np.testing.assert_allclose(a.walkers.positions, b.walkers.positions, rtol=0, atol=1e-10)
    assert a.rng.state == b.rng.state  # the same numbers drawn


def test_factors_without_kernels_keep_the_numpy_path(monkeypatch):
    system, factors, sampler = _dot()
    from nqsflow.vmc.wavefunctions import SlaterBackflow

    backflow = SlaterBackflow.from_spec(system)
    assert build_kernels(system, ProductAnsatz([backflow, *factors]), sampler) is None
    assert build_kernels(system, ProductAnsatz(factors), sampler) is not None
    monkeypatch.setenv("NQSFLOW_KERNELS", "0")
    assert build_kernels(system, ProductAnsatz(factors), sampler) is None


@pytest.mark.parametrize("case", sorted(CASES), ids=str)
def test_a_state_of_the_kernel_path_continues_on_the_numpy_path(case):
    # after a step the kernel path keeps no ln psi, drift or caches: numpy moves rebuild them
    fused, numpy_path = _vmc(case, kernels=True), _vmc(case, kernels=False)
    state = fused.init(seed=5, burn_in_sweeps=5)
    state, _ = fused.step(state, fused.walkers)
    twin = copy.deepcopy(state)  # the random streams advance in place
    _, by_kernels = fused.produce(state, 4 * fused.walkers, bins=10)
    _, by_numpy = numpy_path.produce(twin, 4 * fused.walkers, bins=10)
    np.testing.assert_allclose(by_numpy["energy_series"], by_kernels["energy_series"],
                               rtol=1e-9, atol=1e-10)


# run specs of two of CASES' products and moves (their kernels compiled once)
RESTART_SPECS = {
    "dot-langevin-all": (
        {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        [{"kind": "rbm", "hidden": 4, "init_std": 0.1}, {"kind": "pade_jastrow"}],
        {"kind": "langevin", "moves": "all", "step": 0.3},
    ),
    "electrons-langevin-single": (
        {"particles": 6, "dim": 2, "omega": 0.7, "interaction": "coulomb"},
        [{"kind": "slater", "alpha": 1.1, "envelope": False}, {"kind": "gaussian", "alpha": 0.9},
         {"kind": "rbm", "hidden": 3, "init_std": 0.1}, {"kind": "pade_jastrow"},
         {"kind": "neural_jastrow", **DEEP}],
        {"kind": "langevin", "moves": "single", "step": 0.3, "drift_limit": 1.0},
    ),
}


@pytest.mark.parametrize("case", sorted(RESTART_SPECS), ids=str)
def test_restart_on_the_kernel_path_is_bit_identical(case, tmp_path):
    system, ansatz, sampler = RESTART_SPECS[case]
    spec = {
        "system": system,
        "ansatz": ansatz,
        "sampler": {**sampler, "walkers": 60, "burn_in": 10, "thin": 2, "block_size": 30},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "steps": 6, "samples": 180,
                      "clip_local_energy": 5.0},
        "production": {"samples": 1200},
        "seed": 4,
    }
    assert_restart_is_bit_identical(spec, tmp_path)
