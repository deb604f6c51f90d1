"""Markov-chain samplers of |psi|^2 over a batch of walkers.

Each sampler is a pair of pure-ish functions in the BlackJAX shape: ``init``
builds a :class:`SamplerState` from positions, and ``step`` advances every
walker by one move with an explicit random generator.  A move is either one
all-particle move (``moves="all"``) or one sweep of single-particle moves
(``moves="single"``: particle 0, 1, ..., N-1 in turn, each accepted on its
own), which keeps the acceptance up for many particles.  Single-particle moves
use the wave function's per-walker caches (a Slater determinant's inverse is
updated by rank one per accepted move, never recomputed), rebuilt by
``recache`` every few measured rounds so round-off cannot pile up.
Steps are given in the trap's units (length or time, see
:class:`~nqsflow.vmc.hamiltonians.HarmonicTrap`) so one setting fits every trap
frequency; ``burn_in`` adapts them toward a target acceptance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.vmc.runspec import STEP, resolved_sampler

MOVES = ("all", "single")


class Evaluator(Protocol):
    """The wave function at the current parameters, as a sampler sees it."""

    def log_psi(self, x: np.ndarray) -> np.ndarray: ...

    def log_psi_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def init_cache(self, x: np.ndarray) -> Any: ...

    def grad_particle(self, x: np.ndarray, cache: Any, k: int) -> np.ndarray: ...

    def propose(self, x: np.ndarray, cache: Any, k: int, xk: np.ndarray): ...

    def accept(self, x, cache, k: int, xk, accepted: np.ndarray, data) -> Any: ...


@dataclass
class SamplerState:
    """Walkers and what the next move needs of them.

    ``log_psi``, ``drift`` and ``cache`` follow from the positions and the
    parameters (``refresh`` rebuilds them), so a checkpoint keeps only the
    positions, the step and the move counters.  All-particle moves keep
    ``log_psi`` (and Langevin its ``drift``); single-particle sweeps keep only
    the ``cache``, which the state owns: a factor's ``accept`` may update it in
    place, so after ``step`` the cache of the state that was stepped is spent.
    None means not known (the fused kernels keep none across a parameter
    change): ``step`` rebuilds it first.
    """

    positions: np.ndarray  # (W, N, d)
    log_psi: np.ndarray | None  # (W,) ln|psi| (all-particle moves)
    drift: np.ndarray | None  # (W, N, d) quantum force 2 grad ln psi (all-particle Langevin)
    step: float  # step in physical units (length or time)
    accepted: int = 0
    proposed: int = 0
    cache: Any = None  # the wave function's per-walker caches (single-particle moves)

    @property
    def acceptance(self) -> float:
        """Fraction of accepted moves since the counters were last reset."""
        return self.accepted / self.proposed if self.proposed else float("nan")


class _Sampler:
    """What the two samplers share: state set-up and single-particle sweeps."""

    target_acceptance = 0.5
    uses_drift = False

    def __init__(self, unit: float, step: float, moves: str):
        if moves not in MOVES:
            raise ConfigError(f"sampler.moves must be one of {MOVES}, got {moves!r}")
        self.unit = float(unit)
        self.step0 = float(step)
        self.moves = moves

    def init(self, positions, wf: Evaluator) -> SamplerState:
        """State at ``positions`` for the wave function ``wf``."""
        return self.refresh(SamplerState(positions, None, None, self.step0 * self.unit), wf)

    def refresh(self, state: SamplerState, wf: Evaluator) -> SamplerState:
        """Recompute what follows from the positions after the parameters changed."""
        if self.uses_drift and self.moves == "all":
            log_psi, grad = wf.log_psi_grad(state.positions)
            return replace(state, log_psi=log_psi, drift=2.0 * grad, cache=None)
        if self.moves == "single":
            return replace(state, log_psi=None, drift=None, cache=wf.init_cache(state.positions))
        return replace(state, log_psi=wf.log_psi(state.positions), drift=None, cache=None)

    def recache(self, state: SamplerState, wf: Evaluator) -> SamplerState:
        """Rebuild the single-particle caches from scratch (bounds the round-off of updates)."""
        if self.moves != "single":
            return state
        return replace(state, cache=wf.init_cache(state.positions))

    def step(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        """One move (or one sweep of single-particle moves) of every walker."""
        single = self.moves == "single"
        if (state.cache if single else state.log_psi) is None:
            state = self.refresh(state, wf)  # the kernel path keeps none across an update
        return self._sweep(rng, state, wf) if single else self._move_all(rng, state, wf)

    def _single_proposal(self, rng, wf, x, cache, k: int, step: float):
        """Proposed position of particle k (W, d), and the log Green's-function ratio
        as a function of the new gradient of particle k."""
        raise NotImplementedError

    def _sweep(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        x, cache = state.positions.copy(), state.cache
        walkers, particles = x.shape[:2]
        accepted = 0
        for k in range(particles):
            xk, log_green = self._single_proposal(rng, wf, x, cache, k, state.step)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                dlog, new_grad, data = wf.propose(x, cache, k, xk)
                log_ratio = 2.0 * dlog + log_green(new_grad)
                # NaN (a proposal inside a hard core) compares False: rejected
                accept = np.log(rng.random(walkers)) < log_ratio
            cache = wf.accept(x, cache, k, xk, accept, data)
            x[accept, k] = xk[accept]
            accepted += int(accept.sum())
        return replace(
            state,
            positions=x,
            cache=cache,
            accepted=state.accepted + accepted,
            proposed=state.proposed + walkers * particles,
        )


class Metropolis(_Sampler):
    """Random-walk Metropolis with Gaussian proposals of width ``step`` oscillator lengths."""

    target_acceptance = 0.5

    def __init__(self, length: float, step: float = STEP["metropolis"], moves: str = "all"):
        super().__init__(length, step, moves)

    def _single_proposal(self, rng, wf, x, cache, k, step):
        xk = x[:, k] + step * rng.standard_normal((x.shape[0], x.shape[2]))
        return xk, _symmetric

    def _move_all(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        x, walkers = state.positions, state.positions.shape[0]
        proposal = x + state.step * rng.standard_normal(x.shape)
        new_log_psi = wf.log_psi(proposal)
        with np.errstate(invalid="ignore"):
            accept = np.log(rng.random(walkers)) < 2.0 * (new_log_psi - state.log_psi)
        return replace(
            state,
            positions=np.where(accept[:, None, None], proposal, x),
            log_psi=np.where(accept, new_log_psi, state.log_psi),
            accepted=state.accepted + int(accept.sum()),
            proposed=state.proposed + walkers,
        )


def _symmetric(new_grad) -> float:
    return 0.0  # a symmetric proposal: the Green's functions cancel


class Langevin(_Sampler):
    """Importance sampling with the Fokker-Planck drift (D = 1/2).

    y = x + D F(x) dt + sqrt(2 D dt) eta with F = 2 grad ln psi, accepted with
    the Metropolis-Hastings ratio including the Green's functions
    G(y|x) ~ exp(-(y - x - D dt F(x))^2 / (4 D dt)).  ``step`` is dt in
    oscillator times (dt * omega).  With single-particle moves only the moved
    particle's drift enters, before and after the move.

    Near a node of psi the drift grows like 1/distance: a walker there is thrown
    far away and the reverse move is so improbable that it sticks, which fills
    the local energy with heavy tails.  ``drift_limit`` = a > 0 caps each
    particle's displacement as Umrigar, Nightingale and Runge, J. Chem. Phys.
    99, 2865 (1993): v -> v (-1 + sqrt(1 + 2 a v^2 dt)) / (a v^2 dt), unchanged
    for small v dt and at most sqrt(2 dt / a) long, for single-particle and
    all-particle moves alike (each particle's velocity is limited).  The acceptance uses the
    same limited drift, so the sampled density stays exactly |psi|^2.
    """

    target_acceptance = 0.8
    uses_drift = True

    def __init__(
        self, time: float, step: float = STEP["langevin"], moves: str = "all",
        drift_limit: float = 0.0,
    ):
        super().__init__(time, step, moves)
        if drift_limit < 0:
            raise ConfigError(f"sampler.drift_limit must be >= 0, got {drift_limit}")
        self.drift_limit = float(drift_limit)

    def _velocity(self, grad: np.ndarray, dt: float) -> np.ndarray:
        """The drift velocity grad ln psi of each particle (..., d), limited if asked."""
        if not self.drift_limit:
            return grad
        a_v2_dt = self.drift_limit * dt * np.sum(grad * grad, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            # (sqrt(1 + 2z) - 1) / z, written to stay accurate as z -> 0
            factor = 2.0 / (np.sqrt(1.0 + 2.0 * a_v2_dt) + 1.0)
        return grad * factor

    def _single_proposal(self, rng, wf, x, cache, k, dt):
        old = x[:, k]
        shift = dt * self._velocity(wf.grad_particle(x, cache, k), dt)
        xk = old + shift + np.sqrt(dt) * rng.standard_normal(old.shape)
        forward = xk - old - shift

        def log_green(new_grad):
            backward = old - xk - dt * self._velocity(new_grad, dt)
            return (np.einsum("wd,wd->w", forward, forward)
                    - np.einsum("wd,wd->w", backward, backward)) / (2.0 * dt)

        return xk, log_green

    def _move_all(self, rng, state: SamplerState, wf: Evaluator) -> SamplerState:
        x, dt = state.positions, state.step
        # the drift F = 2 grad ln psi; the limit acts on the velocity grad ln psi
        shift = dt * self._velocity(0.5 * state.drift, dt)
        proposal = x + shift + np.sqrt(dt) * rng.standard_normal(x.shape)
        # a proposal inside a hard core has ln psi = -inf and NaN drift: the NaN
        # log-ratio compares False, so such moves are rejected
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            new_log_psi, new_grad = wf.log_psi_grad(proposal)
            new_drift = 2.0 * new_grad
            forward = proposal - x - shift
            backward = x - proposal - dt * self._velocity(0.5 * new_drift, dt)
            log_green = (
                np.einsum("wnd,wnd->w", forward, forward)
                - np.einsum("wnd,wnd->w", backward, backward)
            ) / (2.0 * dt)
            log_ratio = 2.0 * (new_log_psi - state.log_psi) + log_green
            accept = np.log(rng.random(x.shape[0])) < log_ratio
        return replace(
            state,
            positions=np.where(accept[:, None, None], proposal, x),
            log_psi=np.where(accept, new_log_psi, state.log_psi),
            drift=np.where(accept[:, None, None], new_drift, state.drift),
            accepted=state.accepted + int(accept.sum()),
            proposed=state.proposed + x.shape[0],
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
        if (sweep + 1) % window == 0:
            state = sampler.recache(state, wf)
            if adapt:
                counts = np.array([state.accepted, state.proposed], dtype=float)
                accepted, proposed = total(counts) if total is not None else counts
                # a multiplicative nudge: bigger steps when accepting too often
                factor = np.exp(accepted / proposed - sampler.target_acceptance)
                state = replace(state, step=state.step * factor, accepted=0, proposed=0)
    return replace(state, accepted=0, proposed=0)


def build_sampler(spec: dict, hamiltonian):
    """The sampler named by a run spec's ``sampler`` section, in the trap's units.

    Defaults come from :func:`~nqsflow.vmc.runspec.resolved_sampler`; a resolved
    section passes through unchanged.
    """
    spec = resolved_sampler(spec, hamiltonian.spins)
    kind = spec["kind"]
    if kind == "metropolis":
        return Metropolis(hamiltonian.length, spec["step"], spec["moves"])
    if kind == "langevin":
        return Langevin(hamiltonian.time, spec["step"], spec["moves"], spec["drift_limit"])
    raise ConfigError(f"sampler.kind: unknown sampler {kind!r}")
