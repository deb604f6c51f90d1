"""Traps with spins: closed shells, fermionic reference energies, the spin defaults."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.errors import ConfigError
from nqsflow.vmc.hamiltonians import HarmonicTrap, build_hamiltonian, closed_shells
from nqsflow.vmc.wavefunctions import build_ansatz


def test_closed_shells_of_isotropic_traps():
    assert closed_shells(2)[:6] == [2, 6, 12, 20, 30, 42]
    assert closed_shells(3)[:4] == [2, 8, 20, 40]


@pytest.mark.parametrize(("particles", "exact"), [(2, 2.0), (6, 10.0), (12, 28.0), (20, 60.0)])
def test_noninteracting_fermions_fill_the_shells(particles, exact):
    system = build_hamiltonian(
        {"particles": particles, "dim": 2, "omega": 1.0, "interaction": "coulomb"}
    )
    assert system.spins == (particles // 2, particles // 2)
    assert system.noninteracting_energy() == pytest.approx(exact, rel=1e-14)
    assert HarmonicTrap(0.5, particles, 2, spins=system.spins).noninteracting_energy() == (
        pytest.approx(exact / 2, rel=1e-14)
    )


def test_fermion_levels_in_3d_and_elliptic_traps():
    assert HarmonicTrap(1.0, 8, 3, spins=(4, 4)).noninteracting_energy() == pytest.approx(18.0)
    # lambda = 3: the first excited levels are the two perpendicular ones (omega above the
    # ground level 2.5 omega), the z excitation costs 3 omega
    trap = HarmonicTrap(1.0, 3, 3, elliptic=3.0, spins=(3, 0))
    np.testing.assert_allclose(trap.single_particle_levels(4), [2.5, 3.5, 3.5, 4.5])
    assert trap.noninteracting_energy() == pytest.approx(9.5)
    # bosons all sit in the lowest level, as before
    assert HarmonicTrap(1.0, 6, 2).noninteracting_energy() == pytest.approx(6.0)


def test_open_shells_must_name_their_spins():
    with pytest.raises(ConfigError, match="system.spins: 5 electrons in 2D is not a closed shell"):
        build_hamiltonian({"particles": 5, "dim": 2, "omega": 1.0, "interaction": "coulomb"})
    system = build_hamiltonian(
        {"particles": 5, "dim": 2, "omega": 1.0, "interaction": "coulomb", "spins": [3, 2]}
    )
    assert list(system.spin_labels) == [0, 0, 0, 1, 1]
    with pytest.raises(ConfigError, match="adding up to 5"):
        HarmonicTrap(1.0, 5, 2, "coulomb", spins=(3, 3))
    # no spins and no Coulomb: bosons, as the hard-sphere studies expect
    assert build_hamiltonian({"particles": 5, "dim": 3, "omega": 1.0}).spins is None


def test_like_spin_pairs_follow_the_pair_order():
    system = HarmonicTrap(1.0, 4, 2, "coulomb", spins=(2, 2))
    # pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    assert list(system.like_spin_pairs) == [True, False, False, False, False, True]


def test_a_symmetric_ansatz_for_many_fermions_is_refused():
    system = HarmonicTrap(1.0, 6, 2, "coulomb", spins=(3, 3))
    with pytest.raises(ConfigError, match="antisymmetric factor"):
        build_ansatz([{"kind": "gaussian"}, {"kind": "pade_jastrow"}], system)
    # two electrons of opposite spin need none: the spatial part is symmetric
    two = HarmonicTrap(1.0, 2, 2, "coulomb", spins=(1, 1))
    build_ansatz([{"kind": "gaussian"}, {"kind": "pade_jastrow"}], two)


def test_start_positions_and_ranges_scale_with_the_trap():
    rng = np.random.default_rng(0)
    wide = HarmonicTrap(0.25, 6, 2, "coulomb", spins=(3, 3))
    x = wide.initial_positions(rng, 4000)
    assert x.shape == (4000, 6, 2)
    assert np.std(x) == pytest.approx(wide.length, rel=0.02)
    assert wide.histogram_ranges()["radial"] > HarmonicTrap(0.25, 2, 2).histogram_ranges()["radial"]
