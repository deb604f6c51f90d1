"""Exact two-body reference data: the solver and the generate stage."""

from nqsflow.data.generate import generate_reference, write_reference
from nqsflow.data.two_body import noninteracting_energy, two_body_energy

__all__ = ["generate_reference", "noninteracting_energy", "two_body_energy", "write_reference"]
