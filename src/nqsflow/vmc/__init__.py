"""Variational Monte Carlo for particles in harmonic traps.

``hamiltonians`` (what H is), ``wavefunctions`` (ln psi and its derivatives),
``samplers`` (Markov chains over walkers), ``optimizers`` (parameter updates),
``driver`` (the loop, given a communicator), ``artifact`` (what a run writes).
"""

from nqsflow.vmc.driver import VMC, VMCResult, run
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.wavefunctions import RBM, Gaussian, PadeJastrow, ProductAnsatz, build_ansatz

__all__ = [
    "VMC",
    "VMCResult",
    "run",
    "HarmonicTrap",
    "Gaussian",
    "PadeJastrow",
    "RBM",
    "ProductAnsatz",
    "build_ansatz",
]
