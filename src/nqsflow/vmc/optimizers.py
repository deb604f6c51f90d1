"""Optimisers of the variational parameters and their learning-rate schedules.

Each optimiser keeps its state in a plain dict of arrays (so a run can be
checkpointed) and maps ``(params, gradient, state, metric)`` to new parameters
and state.  ``gradient`` is the energy gradient 2(<E_L O> - <E_L><O>) with
O = d ln psi / d p; ``metric`` is the covariance S = <O O^T> - <O><O>^T, which
only stochastic reconfiguration asks for (``needs_metric``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from nqsflow.errors import ConfigError
from nqsflow.vmc.runspec import DEFAULTS, DIAG_SHIFT, final_learning_rate, resolved_optimizer

SCHEDULES = ("constant", "exponential", "cosine", "inverse_time")
_posv = lapack.get_lapack_funcs("posv", dtype=np.float64)


class Schedule:
    """Learning rate at optimisation step t (0-based).

    constant: lr0; exponential: lr0 (lr1/lr0)^(t/T); cosine: lr1 + (lr0 - lr1)(1 + cos(pi t/T))/2;
    inverse_time: lr0 / (1 + t/T).  T is ``decay_steps``; beyond it the rate stays at lr1.
    """

    def __init__(
        self,
        kind=DEFAULTS["optimizer"]["schedule"],
        initial=DEFAULTS["optimizer"]["learning_rate"],
        final=None,
        decay_steps=DEFAULTS["optimizer"]["steps"],
    ):
        if kind not in SCHEDULES:
            raise ConfigError(f"optimizer.schedule must be one of {SCHEDULES}, got {kind!r}")
        self.kind, self.initial = kind, float(initial)
        self.final = float(final if final is not None else final_learning_rate(self.initial))
        self.decay_steps = max(int(decay_steps), 1)

    def __call__(self, t: int) -> float:
        frac = min(t / self.decay_steps, 1.0)
        if self.kind == "constant":
            return self.initial
        if self.kind == "exponential":
            return self.initial * (self.final / self.initial) ** frac
        if self.kind == "cosine":
            return self.final + 0.5 * (self.initial - self.final) * (1 + math.cos(math.pi * frac))
        return self.initial / (1.0 + t / self.decay_steps)


class SGD:
    """Plain gradient descent: p <- p - lr(t) g."""

    needs_metric = False

    def __init__(self, schedule: Schedule):
        self.schedule = schedule

    def init(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Optimiser state for ``params``: a step counter."""
        return {"t": np.array(0)}

    def update(self, params, gradient, state, metric=None):
        """New parameters and state after one step along ``-gradient``."""
        t = int(state["t"])
        return params - self.schedule(t) * gradient, {"t": np.array(t + 1)}


class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moment estimates."""

    needs_metric = False

    def __init__(self, schedule: Schedule, beta1=0.9, beta2=0.999, eps=1e-8):
        self.schedule = schedule
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Zero first and second moments and a step counter."""
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "t": np.array(0)}

    def update(self, params, gradient, state, metric=None):
        """New parameters and state after one Adam step."""
        t = int(state["t"]) + 1
        m = self.beta1 * state["m"] + (1 - self.beta1) * gradient
        v = self.beta2 * state["v"] + (1 - self.beta2) * gradient**2
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        step = self.schedule(t - 1) * m_hat / (np.sqrt(v_hat) + self.eps)
        return params - step, {"m": m, "v": v, "t": np.array(t)}


class StochasticReconfiguration:
    """Natural gradient (Sorella): p <- p - lr(t) (S + shift I)^-1 g / 2.

    S is the covariance of O = d ln psi / d p over the samples, so the step is
    an imaginary-time step projected on the variational manifold; the diagonal
    shift regularises directions the samples do not resolve.
    """

    needs_metric = True

    def __init__(self, schedule: Schedule, diag_shift: float = DIAG_SHIFT):
        if diag_shift < 0:
            raise ConfigError("optimizer.diag_shift must be >= 0")
        self.schedule = schedule
        self.diag_shift = float(diag_shift)

    def init(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Optimiser state for ``params``: a step counter."""
        return {"t": np.array(0)}

    def _shifted(self, metric: np.ndarray) -> np.ndarray:
        # S + shift I as a new array (posv overwrites it); the same numbers as adding
        # shift * np.eye, which only adds zeros off the diagonal
        shifted = np.array(metric, dtype=np.float64)
        shifted.flat[:: len(shifted) + 1] += self.diag_shift
        return shifted

    def update(self, params, gradient, state, metric=None):
        """New parameters and state after one natural-gradient step."""
        if metric is None:
            raise ValueError("stochastic reconfiguration needs the metric S")
        t = int(state["t"])
        shifted = self._shifted(metric)
        force = 0.5 * gradient
        # what scipy.linalg.solve(assume_a="pos") computes, bit for bit (a division for
        # one parameter, else LAPACK's Cholesky solve posv), without its 45 us of
        # argument handling per step
        if len(params) == 1:
            info = int(shifted[0, 0] == 0.0)
            direction = force / (shifted[0, 0] or 1.0)
        else:
            _, direction, info = _posv(shifted, force, overwrite_a=True)
        if info != 0:  # singular or not positive definite (or a NaN): least squares
            direction = np.linalg.lstsq(self._shifted(metric), force, rcond=None)[0]
        return params - self.schedule(t) * direction, {"t": np.array(t + 1)}


def build_optimizer(spec: dict):
    """The optimiser named by a run spec's ``optimizer`` section.

    Defaults come from :func:`~nqsflow.vmc.runspec.resolved_optimizer`; a resolved
    section passes through unchanged.
    """
    spec = resolved_optimizer(spec)
    kind = spec["kind"]
    schedule = Schedule(
        spec["schedule"], spec["learning_rate"], spec["final_learning_rate"], spec["decay_steps"]
    )
    if kind == "sgd":
        return SGD(schedule)
    if kind == "adam":
        return Adam(schedule)
    if kind == "sr":
        return StochasticReconfiguration(schedule, spec["diag_shift"])
    raise ConfigError(f"optimizer.kind: unknown optimiser {kind!r}")
