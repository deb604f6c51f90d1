"""Guards of a VMC optimisation: stop at the first step whose numbers cannot be trusted.

A diverging optimisation (a learning rate too large, parameters leaving the
domain where psi is normalisable) shows first as an energy variance many
orders of magnitude above what came before, then as an energy of -1e200, and
only later, if at all, as ``nan``.  Measured on two-electron dots (issue 11):
over healthy runs (Adam, SR, SGD; Gaussian, RBM, backflow, hard spheres) the
variance of a step never exceeded 6 times the median of the steps before it;
every diverging run tried (SGD at learning rates 1 to 1000, Adam at 5, SR at 50)
passed 1e6 times that median at its first or second bad step, SGD at rate 1
while its energy stayed finite to the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nqsflow.errors import DivergenceError

# a variance above this many times the median of the earlier steps stops the run
MAX_VARIANCE_RATIO = 1e6
# relative floor of that median (times E^2): round-off variances of an exact state
# (1e-30) must not make the next step's 1e-20 look like an explosion
VARIANCE_FLOOR = 1e-12
HINT = "the optimisation diverged; lower optimizer.learning_rate (or use sr/adam)"


def check_step(
    step: int,
    energy: float,
    variance: float,
    gradient: np.ndarray,
    params: np.ndarray,
    variances: Sequence[float],
    energies: Sequence[float],
    max_ratio: float = MAX_VARIANCE_RATIO,
) -> None:
    """Raise :class:`DivergenceError` naming ``step`` (1-based) and the bad quantity.

    ``variances`` and ``energies`` are those of the steps before this one;
    ``max_ratio`` 0 turns the variance test off (the finite tests stay).
    """
    for quantity, value in (("energy", energy), ("variance", variance)):
        if not np.isfinite(value):
            raise DivergenceError(step, quantity, f"the {quantity} is {value}; {HINT}")
    for quantity, values in (("gradient", gradient), ("parameters", params)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DivergenceError(
                step, quantity,
                f"{bad.size} of {values.size} {quantity} entries are not finite "
                f"(first: index {bad[0]} = {values[bad[0]]}); {HINT}",
            )
    if max_ratio > 0 and len(variances):
        median = float(np.median(variances))
        scale = max(median, VARIANCE_FLOOR * float(np.median(energies)) ** 2, 1e-300)
        if variance > max_ratio * scale:
            raise DivergenceError(
                step, "variance",
                f"the energy variance {variance:.3e} is {variance / scale:.1e} times the "
                f"median {median:.3e} of the steps before (limit "
                f"optimizer.max_variance_ratio = {max_ratio:g}); {HINT}",
            )
