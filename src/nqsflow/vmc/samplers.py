"""Markov-chain samplers of |psi|^2 over a batch of walkers.

Each sampler is a pair of pure-ish functions in the BlackJAX shape: ``init``
builds a :class:`SamplerState` from positions, and ``step`` advances every
walker by one all-particle move with an explicit random generator.  Steps are
given in oscillator units (length 1/sqrt(omega), time 1/omega) so one setting
fits every trap frequency; ``burn_in`` adapts them toward a target acceptance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from nqsflow.errors import ConfigError

# Wave-function evaluators a sampler needs, bound to the current parameters.
LogPsi = Callable[[np.ndarray], np.ndarray]
GradLogPsi = Callable[[np.ndarray], np.ndarray]


@dataclass
class SamplerState:
    """Walkers and what the next move needs of them."""

    positions: np.ndarray  # (W, N, d)
    log_psi: np.ndarray  # (W,)
    drift: np.ndarray | None  # (W, N, d) quantum force 2 grad ln psi (Langevin only)
    step: float  # step in physical units (length or time)
    accepted: int = 0
    proposed: int = 0

    @property
    def acceptance(self) -> float:
        """Fraction of accepted walker moves since the counters were last reset."""
        return self.accepted / self.proposed if self.proposed else float("nan")


class Metropolis:
    """Random-walk Metropolis: all-particle Gaussian proposals of width ``step / sqrt(omega)``."""

    target_acceptance = 0.5

    def __init__(self, omega: float, step: float = 1.0):
        self.unit = 1.0 / np.sqrt(omega)
        self.step0 = step

    def init(self, positions, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """State at ``positions`` for the wave function given by ``log_psi``."""
        return SamplerState(positions, log_psi(positions), None, self.step0 * self.unit)

    def refresh(self, state: SamplerState, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """Recompute cached values after the parameters changed."""
        return replace(state, log_psi=log_psi(state.positions))

    def step(self, rng, state: SamplerState, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """One move of every walker."""
        x = state.positions
        proposal = x + state.step * rng.standard_normal(x.shape)
        new_log_psi = log_psi(proposal)
        log_ratio = 2.0 * (new_log_psi - state.log_psi)
        accept = np.log(rng.random(x.shape[0])) < log_ratio
        return SamplerState(
            np.where(accept[:, None, None], proposal, x),
            np.where(accept, new_log_psi, state.log_psi),
            None,
            state.step,
            state.accepted + int(accept.sum()),
            state.proposed + x.shape[0],
        )


class Langevin:
    """Importance sampling with the Fokker-Planck drift (D = 1/2).

    y = x + D F(x) dt + sqrt(2 D dt) eta with F = 2 grad ln psi, accepted with
    the Metropolis-Hastings ratio including the Green's functions
    G(y|x) ~ exp(-(y - x - D dt F(x))^2 / (4 D dt)).  ``step`` is dt * omega.
    """

    target_acceptance = 0.8

    def __init__(self, omega: float, step: float = 0.2):
        self.unit = 1.0 / omega
        self.step0 = step

    def init(self, positions, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """State at ``positions`` for the wave function given by ``log_psi``."""
        return SamplerState(
            positions, log_psi(positions), 2.0 * grad(positions), self.step0 * self.unit
        )

    def refresh(self, state: SamplerState, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """Recompute cached values after the parameters changed."""
        return replace(
            state, log_psi=log_psi(state.positions), drift=2.0 * grad(state.positions)
        )

    def step(self, rng, state: SamplerState, log_psi: LogPsi, grad: GradLogPsi) -> SamplerState:
        """One move of every walker."""
        x, dt = state.positions, state.step
        half_dt = 0.5 * dt
        proposal = x + half_dt * state.drift + np.sqrt(dt) * rng.standard_normal(x.shape)
        new_log_psi = log_psi(proposal)
        new_drift = 2.0 * grad(proposal)
        forward = proposal - x - half_dt * state.drift
        backward = x - proposal - half_dt * new_drift
        log_green = (
            np.einsum("wnd,wnd->w", forward, forward) - np.einsum("wnd,wnd->w", backward, backward)
        ) / (2.0 * dt)
        log_ratio = 2.0 * (new_log_psi - state.log_psi) + log_green
        accept = np.log(rng.random(x.shape[0])) < log_ratio
        return SamplerState(
            np.where(accept[:, None, None], proposal, x),
            np.where(accept, new_log_psi, state.log_psi),
            np.where(accept[:, None, None], new_drift, state.drift),
            state.step,
            state.accepted + int(accept.sum()),
            state.proposed + x.shape[0],
        )


def burn_in(sampler, rng, state: SamplerState, log_psi, grad, sweeps: int, adapt: bool = True):
    """Equilibrate for ``sweeps`` moves, nudging the step toward the target acceptance."""
    window = 10
    for sweep in range(sweeps):
        state = sampler.step(rng, state, log_psi, grad)
        if adapt and (sweep + 1) % window == 0:
            # a multiplicative nudge: bigger steps when accepting too often
            factor = np.exp(state.acceptance - sampler.target_acceptance)
            state = replace(state, step=state.step * factor, accepted=0, proposed=0)
    return replace(state, accepted=0, proposed=0)


def build_sampler(spec: dict, omega: float):
    """The sampler named by a run spec's ``sampler`` section."""
    kind = spec["kind"]
    if kind == "metropolis":
        return Metropolis(omega, spec.get("step", 1.0))
    if kind == "langevin":
        return Langevin(omega, spec.get("step", 0.2))
    raise ConfigError(f"sampler.kind: unknown sampler {kind!r}")
