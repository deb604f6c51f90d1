"""Single-particle moves: every registered factor's cache protocol against direct evaluation.

Parametrised over the factor registry, so a new factor is checked the moment it
exists: over a chain of random single-particle moves with random acceptance,
``propose`` must give the change of ln|psi| and the moved particle's new
gradient, ``grad_particle`` the current gradient, and ``accept`` must keep the
cache in step with the positions.
"""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.wavefunctions import FACTORS, ProductAnsatz, build_ansatz


def _system(kind: str) -> HarmonicTrap:
    if kind == "hard_sphere_jastrow":
        return HarmonicTrap(1.0, 4, 3, "hard_sphere", radius=0.2)
    return HarmonicTrap(0.7, 6, 2, "coulomb", spins=(3, 3))


def _factor_and_params(kind: str):
    system = _system(kind)
    factor = FACTORS[kind].from_spec(system)
    rng = np.random.default_rng(5)
    p = factor.initial_params(rng)
    p = p + 0.1 * rng.standard_normal(p.shape)  # away from any special point
    return system, factor, p


def _start(system, walkers=7, seed=2):
    rng = np.random.default_rng(seed)
    x = system.initial_positions(rng, walkers)
    return x, rng


@pytest.mark.parametrize("kind", sorted(FACTORS), ids=str)
def test_propose_and_accept_follow_direct_evaluation(kind):
    system, factor, p = _factor_and_params(kind)
    x, rng = _start(system)
    cache = factor.init_cache(p, x)
    for sweep in range(3):
        for k in range(system.particles):
            np.testing.assert_allclose(
                factor.grad_particle(p, x, cache, k), factor.log_psi_grad(p, x)[1][:, k],
                rtol=1e-8, atol=1e-9, err_msg=f"grad_particle, sweep {sweep}, particle {k}",
            )
            xk = x[:, k] + 0.4 * rng.standard_normal((x.shape[0], x.shape[2]))
            moved = x.copy()
            moved[:, k] = xk
            dlog, grad, data = factor.propose(p, x, cache, k, xk)
            new_log, new_grad = factor.log_psi_grad(p, moved)
            with np.errstate(invalid="ignore"):
                direct = new_log - factor.log_psi(p, x)
            finite = np.isfinite(direct)
            np.testing.assert_array_equal(np.isfinite(dlog), finite)
            np.testing.assert_allclose(dlog[finite], direct[finite], rtol=1e-8, atol=1e-9)
            np.testing.assert_allclose(grad[finite], new_grad[finite, k], rtol=1e-8, atol=1e-9)
            accepted = (rng.random(x.shape[0]) < 0.5) & finite
            cache = factor.accept(p, x, cache, k, xk, accepted, data)
            x[accepted, k] = xk[accepted]


def test_product_ansatz_adds_the_factors_moves():
    system = HarmonicTrap(1.0, 6, 2, "coulomb", spins=(3, 3))
    spec = [{"kind": kind} for kind in ("slater", "pade_jastrow", "rbm") if kind in FACTORS]
    if not any(s["kind"] == "slater" for s in spec):
        pytest.skip("no slater factor registered")
    ansatz = build_ansatz(spec, system)
    assert isinstance(ansatz, ProductAnsatz)
    p = ansatz.initial_params(np.random.default_rng(0))
    x, rng = _start(system)
    cache = ansatz.init_cache(p, x)
    xk = x[:, 4] + 0.3 * rng.standard_normal((x.shape[0], 2))
    moved = x.copy()
    moved[:, 4] = xk
    dlog, grad, data = ansatz.propose(p, x, cache, 4, xk)
    np.testing.assert_allclose(dlog, ansatz.log_psi(p, moved) - ansatz.log_psi(p, x), atol=1e-9)
    np.testing.assert_allclose(grad, ansatz.log_psi_grad(p, moved)[1][:, 4], atol=1e-9)
    cache = ansatz.accept(p, x, cache, 4, xk, np.ones(x.shape[0], bool), data)
    np.testing.assert_allclose(
        ansatz.grad_particle(p, moved, cache, 0), ansatz.log_psi_grad(p, moved)[1][:, 0],
        atol=1e-9,
    )
