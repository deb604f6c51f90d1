"""Named error classes: each says which rule was broken and how to fix it.

User errors derive from :class:`NqsflowError`; the CLIs print their message in
one line and exit with status 2, without a traceback.
"""

from __future__ import annotations


class NqsflowError(Exception):
    """Base class of every error a user can cause (bad config, bad artifact)."""


class ConfigError(NqsflowError):
    """A config or run spec breaks its schema or a physical constraint."""


class ArtifactError(NqsflowError):
    """An input artifact is missing, unreadable, or not what the reader expects."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SchemaMismatchError(ArtifactError):
    """An artifact carries another schema (or version) than the reader expects."""


class SetupError(NqsflowError):
    """The machine lacks a tool the study needs (an MPI launcher for its ranks)."""


class ConvergenceError(NqsflowError):
    """A numerical solver did not reach its requested tolerance."""


class DivergenceError(NqsflowError):
    """A run produced a non-finite (or exploding) energy, variance, gradient or parameter.

    ``step`` is the 1-based optimisation step (0 for production), ``quantity``
    what went wrong (``energy``, ``variance``, ``gradient``, ``parameters``).
    """

    def __init__(self, step: int, quantity: str, problem: str):
        self.step, self.quantity, self.problem = step, quantity, problem
        where = f"optimisation step {step}" if step > 0 else "production"
        super().__init__(f"{where}: {problem}")
