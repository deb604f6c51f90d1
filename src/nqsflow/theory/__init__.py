"""Theories: one model's predictions of the observable at the study's points.

Producers (a registry, :mod:`nqsflow.theory.kinds`): VMC runs gathered per
ansatz, tabulated nuclear mass models, and a liquid-drop mass formula fitted by
the project's own regression methods.  Each writes an ``nqsflow.theory/1``
artifact (:mod:`nqsflow.theory.stage`) that the fit stage reads.
"""

from nqsflow.theory.kinds import THEORIES, TheoryKind, theory_schema, theory_specs
from nqsflow.theory.stage import SCHEMA, run_theory

__all__ = ["SCHEMA", "THEORIES", "TheoryKind", "run_theory", "theory_schema", "theory_specs"]
