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
from typing import Protocol

import numpy as np

from nqsflow.errors import ConfigError


class Evaluator(Protocol):
    """The wave function at the current parameters, as a sampler sees it."""

    def log_psi(self, x: np.ndarray) -> np.ndarray: ...

    def log_psi_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


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
    """Random-walk Metropolis with Gaussian proposals of width ``step / sqrt(omega)``.

    ``moves="all"`` moves every particle of a walker at once; ``moves="single"``
    makes one sweep of single-particle moves (particle 0, 1, ..., N-1, each
    accepted on its own), which keeps the acceptance up for many particles.
    """

    target_acceptance = 0.5

    def __init__(self, omega: float, step: float = 1.0, moves: str = "all"):
        if moves not in ("all", "single"):
            raise ConfigError(f"sampler.moves must be 'all' or 'single', got {moves!r}")
        self.unit = 1.0 / np.sqrt(omega)
        self.step0 = step
        self.moves = moves

    def init(self, positions, wf: Evaluator) -> SamplerState:
        """State at ``positions`` for the wave function ``wf``."""
        return SamplerState(positions, wf.log_psi(positions), None, self.step0 * self.unit)

    def refresh(self, state: SamplerState, wf: Evaluator) -> SamplerState:
        """Recompute cached values after the parameters changed."""
        return replace(state, log_psi=wf.log_psi(state.positions))

    def step(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        """One move (or one sweep of single-particle moves) of every walker."""
        x, log_psi = state.positions, state.log_psi
        walkers, particles = x.shape[:2]
        if self.moves == "all":
            groups = [slice(None)]
        else:
            groups = [slice(k, k + 1) for k in range(particles)]
        accepted = 0
        for group in groups:
            proposal = x.copy()
            proposal[:, group] += state.step * rng.standard_normal(proposal[:, group].shape)
            new_log_psi = wf.log_psi(proposal)
            with np.errstate(invalid="ignore"):
                accept = np.log(rng.random(walkers)) < 2.0 * (new_log_psi - log_psi)
            x = np.where(accept[:, None, None], proposal, x)
            log_psi = np.where(accept, new_log_psi, log_psi)
            accepted += int(accept.sum())
        return SamplerState(
            x,
            log_psi,
            None,
            state.step,
            state.accepted + accepted,
            state.proposed + walkers * len(groups),
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

    def init(self, positions, wf: Evaluator) -> SamplerState:
        """State at ``positions`` for the wave function ``wf``."""
        log_psi, grad = wf.log_psi_grad(positions)
        return SamplerState(positions, log_psi, 2.0 * grad, self.step0 * self.unit)

    def refresh(self, state: SamplerState, wf: Evaluator) -> SamplerState:
        """Recompute cached values after the parameters changed."""
        log_psi, grad = wf.log_psi_grad(state.positions)
        return replace(state, log_psi=log_psi, drift=2.0 * grad)

    def step(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        """One move of every walker."""
        x, dt = state.positions, state.step
        half_dt = 0.5 * dt
        proposal = x + half_dt * state.drift + np.sqrt(dt) * rng.standard_normal(x.shape)
        # a proposal inside a hard core has ln psi = -inf and NaN drift: the NaN
        # log-ratio compares False, so such moves are rejected
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            new_log_psi, new_grad = wf.log_psi_grad(proposal)
            new_drift = 2.0 * new_grad
            forward = proposal - x - half_dt * state.drift
            backward = x - proposal - half_dt * new_drift
            log_green = (
                np.einsum("wnd,wnd->w", forward, forward)
                - np.einsum("wnd,wnd->w", backward, backward)
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


def burn_in(
    sampler,
    rng,
    state: SamplerState,
    wf: Evaluator,
    sweeps: int,
    adapt: bool = True,
    total: Callable[[np.ndarray], np.ndarray] | None = None,
):
    """Equilibrate for ``sweeps`` moves, nudging the step toward the target acceptance.

    ``total`` sums the acceptance counts over ranks (the communicator's ``sum``),
    so every rank adapts to the same step whatever the rank count.
    """
    window = 10
    for sweep in range(sweeps):
        state = sampler.step(rng, state, wf)
        if adapt and (sweep + 1) % window == 0:
            counts = np.array([state.accepted, state.proposed], dtype=float)
            accepted, proposed = total(counts) if total is not None else counts
            # a multiplicative nudge: bigger steps when accepting too often
            factor = np.exp(accepted / proposed - sampler.target_acceptance)
            state = replace(state, step=state.step * factor, accepted=0, proposed=0)
    return replace(state, accepted=0, proposed=0)


def build_sampler(spec: dict, omega: float):
    """The sampler named by a run spec's ``sampler`` section."""
    kind = spec["kind"]
    if kind == "metropolis":
        return Metropolis(omega, spec.get("step", 1.0), spec.get("moves", "all"))
    if kind == "langevin":
        return Langevin(omega, spec.get("step", 0.2))
    raise ConfigError(f"sampler.kind: unknown sampler {kind!r}")
