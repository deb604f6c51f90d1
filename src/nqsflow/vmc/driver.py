"""The VMC loop: sampling, local energies, the energy gradient, optimisation, production.

The driver is handed its communicator (serial or MPI) and builds its random
streams from the seed, so it runs and tests without MPI or files.  Each rank
owns one set of walkers; ranks exchange only sums.  Rank r's stream comes from
``SeedSequence(seed, spawn_key=(r,))``, or, with ``block_size``, each block of
walkers has its own stream (see :mod:`streams`); the initial parameters come
from a stream of their own, identical on every rank.

In the BlackJAX shape, :class:`VMC` holds the parts of a run (Hamiltonian,
ansatz, sampler, optimiser, communicator) and its methods map a
:class:`~nqsflow.vmc.state.VMCState` to a new state and what the step measured.
The driver knows nothing of traps: start positions, units and histogram ranges
come from the Hamiltonian.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from nqsflow.stats import reduced_autocorrelation
from nqsflow.vmc.geometry import pair_vectors
from nqsflow.vmc.guards import MAX_VARIANCE_RATIO, check_step
from nqsflow.vmc.hamiltonians import HarmonicTrap, build_hamiltonian
from nqsflow.vmc.observables import Densities
from nqsflow.vmc.optimizers import build_optimizer
from nqsflow.vmc.parallel import SerialComm
from nqsflow.vmc.runspec import resolved_runspec, with_defaults
from nqsflow.vmc.samplers import build_sampler, burn_in
from nqsflow.vmc.state import VMCState
from nqsflow.vmc.streams import WalkerStreams
from nqsflow.vmc.wavefunctions import ProductAnsatz, build_ansatz

PARAMS_STREAM = 1 << 30  # spawn key of the parameter stream, apart from any rank's
# rounds between fresh single-particle caches: rank-one updates of a determinant's
# inverse lose a little precision each; a fresh inverse costs about a sweep
RECACHE_ROUNDS = 10
# samples per local-energy evaluation: bounds the memory of a network's intermediates
CHUNK_SAMPLES = 1 << 15
# the fused kernels hold no intermediates, but a signal is seen only between their
# calls: a production call does about this many pair terms (samples x thin x N^2),
# 1 << 18 samples of two electrons at thin 1, some 30 ms here
KERNEL_CHUNK_WORK = 1 << 20


def _ratio(accepted: float, proposed: float) -> float:
    return float(accepted / proposed) if proposed else float("nan")


class BoundWavefunction:
    """An ansatz at fixed parameters: what a sampler evaluates."""

    def __init__(self, ansatz: ProductAnsatz, params: np.ndarray):
        self.ansatz, self.params = ansatz, params

    def log_psi(self, x):
        return self.ansatz.log_psi(self.params, x)

    def log_psi_grad(self, x):
        return self.ansatz.log_psi_grad(self.params, x)

    def init_cache(self, x):
        return self.ansatz.init_cache(self.params, x)

    def grad_particle(self, x, cache, k):
        return self.ansatz.grad_particle(self.params, x, cache, k)

    def propose(self, x, cache, k, xk):
        return self.ansatz.propose(self.params, x, cache, k, xk)

    def accept(self, x, cache, k, xk, accepted, data):
        return self.ansatz.accept(self.params, x, cache, k, xk, accepted, data)


@dataclass
class StepStats:
    """What one optimisation step measured (identical on every rank)."""

    energy: float
    energy_error: float  # naive, uncorrelated standard error
    variance: float
    acceptance: float
    gradient: np.ndarray


@dataclass
class VMCResult:
    """Outcome of a run: optimisation history and the production estimate."""

    params_initial: np.ndarray
    params_final: np.ndarray
    param_names: list[str]
    history: dict[str, np.ndarray]
    energy: float
    energy_error: float
    variance: float
    acceptance: float
    samples: int
    tau: float  # integrated autocorrelation time of E_L, in rounds (sampler.thin moves each)
    ess: float  # effective sample size, samples / tau
    tau_window: int  # lag (rounds) at which the sum for tau stopped
    moves_per_round: int
    converged_at: int  # optimisation step at which the convergence test passed, or -1
    energy_series: np.ndarray = field(repr=False)
    histograms: dict[str, np.ndarray] = field(repr=False, default_factory=dict)


class VMC:
    """Variational Monte Carlo of one Hamiltonian with one ansatz, one walker set per rank."""

    def __init__(
        self,
        hamiltonian: HarmonicTrap,
        ansatz: ProductAnsatz,
        sampler,
        optimizer,
        *,
        walkers: int = 500,
        thin: int = 4,
        block_size: int | None = None,
        clip: float = 0.0,
        comm=None,
        kernels: bool = True,
    ):
        self.hamiltonian = hamiltonian
        self.ansatz = ansatz
        self.sampler = sampler
        self.optimizer = optimizer
        self.comm = comm if comm is not None else SerialComm()
        self.walkers = int(walkers)
        self.thin = int(thin)
        self.block_size = block_size or self.walkers
        self.clip = float(clip)
        # the fused numba moves and E_L (vmc/fused.py), built on first use; False: numpy only
        self._kernels = None if kernels else False

    def kernels(self):
        """The fused kernel path of this run, or None where the numpy path runs."""
        if self._kernels is None:
            from nqsflow.vmc.fused import build_kernels

            self._kernels = build_kernels(self.hamiltonian, self.ansatz, self.sampler) or False
        return self._kernels or None

    def wf(self, state: VMCState) -> BoundWavefunction:
        """The ansatz at the state's parameters."""
        return BoundWavefunction(self.ansatz, state.params)

    def _fresh(self, seed: int) -> VMCState:
        # parameters and streams from the seed; walkers not yet placed
        rng = WalkerStreams(seed, self.walkers, self.block_size, self.comm.rank)
        param_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PARAMS_STREAM,)))
        params = self.ansatz.initial_params(param_rng)
        return VMCState(params, params.copy(), self.optimizer.init(params), None, rng)

    def init(self, seed: int, burn_in_sweeps: int) -> VMCState:
        """A new run: initial parameters, walkers placed by the trap and equilibrated."""
        state = self._fresh(seed)
        x0 = self.hamiltonian.initial_positions(state.rng, self.walkers)
        wf = self.wf(state)
        walkers = burn_in(
            self.sampler, state.rng, self.sampler.init(x0, wf), wf, burn_in_sweeps,
            total=self.comm.sum,
        )
        return replace(state, walkers=walkers)

    def restore(self, seed: int, snapshot) -> VMCState:
        """The state of a :meth:`VMCState.snapshot` taken by this rank of an identical run."""
        state = self._fresh(seed).restored(snapshot)
        fused = self.kernels()
        if fused is not None:  # as after a step: the kernel recomputes, bit for bit the same
            return replace(state, walkers=fused.refresh(state.walkers))
        return replace(state, walkers=self.sampler.refresh(state.walkers, self.wf(state)))

    def local_energy(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """E_L of each walker at positions ``x`` (W, N, d)."""
        pairs = pair_vectors(x) if x.shape[1] > 1 else None
        grad, lap = self.ansatz.grad_lap(params, x, pairs)
        return self.hamiltonian.local_energy(grad, lap, x, None if pairs is None else pairs[1])

    def local_energy_and_derivatives(self, params: np.ndarray, x: np.ndarray):
        """E_L (W,) and O = d ln psi / d p (W, P) at positions ``x``, sharing the work."""
        pairs = pair_vectors(x) if x.shape[1] > 1 else None
        grad, lap, o = self.ansatz.local_terms(params, x, pairs)
        r = None if pairs is None else pairs[1]
        return self.hamiltonian.local_energy(grad, lap, x, r), o

    def _rounds(self, samples: int) -> int:
        per_rank = -(-samples // self.comm.size)
        return max(1, -(-per_rank // self.walkers))

    def sample(self, state: VMCState, samples: int) -> tuple[VMCState, np.ndarray]:
        """Positions of about ``samples`` draws over all ranks, (rounds, W, N, d) on this rank."""
        rounds = self._rounds(samples)
        fused = self.kernels()
        if fused is not None:
            return fused.sample(state, rounds, self.thin)
        out = np.empty((rounds, self.walkers, *self.hamiltonian.shape))
        walkers, wf, sampler = state.walkers, self.wf(state), self.sampler
        for k in range(rounds):
            if k and k % RECACHE_ROUNDS == 0:  # refresh and burn-in left a fresh cache
                walkers = sampler.recache(walkers, wf)
            for _ in range(self.thin):
                walkers = sampler.step(state.rng, walkers, wf)
            out[k] = walkers.positions
        return replace(state, walkers=walkers), out

    def _take_move_counts(self, state: VMCState) -> tuple[VMCState, list[float]]:
        # this rank's accepted and proposed moves since the last call; they ride
        # along in the step's one reduction instead of a collective of their own
        w = state.walkers
        counts = [float(w.accepted), float(w.proposed)]
        return replace(state, walkers=replace(w, accepted=0, proposed=0)), counts

    def _clipped(self, e_local: np.ndarray) -> np.ndarray:
        # local energies pulled into mean +- clip * (mean absolute deviation), over all
        # ranks: near a node of a determinant E_L has heavy tails that would make single
        # gradient estimates, and so steps, arbitrarily large
        count, total = self.comm.sum(np.array([e_local.size, e_local.sum()]))
        mean = total / count
        spread = self.comm.sum(np.array([np.abs(e_local - mean).sum()]))[0] / count
        return np.clip(e_local, mean - self.clip * spread, mean + self.clip * spread)

    def step(self, state: VMCState, samples: int) -> tuple[VMCState, StepStats]:
        """Estimate E and its gradient 2(<E_L O> - <E_L><O>), then update the parameters.

        With ``clip`` > 0 the gradient uses local energies clipped to ``clip`` mean
        absolute deviations about the mean; the energy and variance reported are
        never clipped.
        """
        fused = self.kernels()
        if fused is not None:  # moves, E_L and O in one kernel call per block of walkers
            state, e_local, o = fused.sample_local_terms(state, self._rounds(samples), self.thin)
            e_local, o = e_local.ravel(), o.reshape(-1, o.shape[2])
        else:
            state, x = self.sample(state, samples)
            x = x.reshape(-1, *x.shape[2:])
            parts = [
                self.local_energy_and_derivatives(state.params, x[i : i + CHUNK_SAMPLES])
                for i in range(0, x.shape[0], CHUNK_SAMPLES)
            ]
            if len(parts) == 1:  # one chunk, the usual case: no copy of O
                ((e_local, o),) = parts
            else:
                e_local = np.concatenate([e for e, _ in parts])
                o = np.concatenate([d for _, d in parts])
        e_grad = self._clipped(e_local) if self.clip > 0 else e_local
        n_params = o.shape[1]
        state, counts = self._take_move_counts(state)
        # sum_w O and sum_w E_L O in one product: o.sum(0) reduces along the strided
        # axis, at twice the time of a matrix-vector product
        weights = np.empty((2, e_grad.size))
        weights[0], weights[1] = 1.0, e_grad
        parts = [
            counts,
            [e_local.size, e_local.sum(), e_local @ e_local, e_grad.sum()],
            (weights @ o).ravel(),
        ]
        if self.optimizer.needs_metric:
            parts.append((o.T @ o).ravel())
        sums = self.comm.sum(np.concatenate(parts))
        acceptance = _ratio(*sums[:2])
        sums = sums[2:]
        count, e_sum, e2_sum, e_grad_sum = sums[:4]
        o_mean = sums[4 : 4 + n_params] / count
        eo_mean = sums[4 + n_params : 4 + 2 * n_params] / count
        energy = e_sum / count
        variance = max(e2_sum / count - energy**2, 0.0)
        gradient = 2.0 * (eo_mean - (e_grad_sum / count) * o_mean)
        metric = None
        if self.optimizer.needs_metric:
            oo = sums[4 + 2 * n_params :].reshape(n_params, n_params) / count
            metric = oo - np.outer(o_mean, o_mean)
        params, opt_state = self.optimizer.update(state.params, gradient, state.optimizer, metric)
        if fused is not None:
            walkers = fused.refresh(state.walkers)
        else:
            walkers = self.sampler.refresh(state.walkers, BoundWavefunction(self.ansatz, params))
        state = replace(state, params=params, optimizer=opt_state, walkers=walkers)
        stats = StepStats(
            float(energy), float(np.sqrt(variance / count)), float(variance), acceptance, gradient
        )
        return state, stats

    def optimize(
        self,
        state: VMCState,
        steps: int,
        samples: int,
        callback: Callable | None = None,
        convergence: Mapping[str, float] | None = None,
        monitor=None,
        max_variance_ratio: float = MAX_VARIANCE_RATIO,
    ) -> tuple[VMCState, bool]:
        """Continue the optimisation up to ``steps`` steps of ``samples`` draws each.

        Resumable: the step counter and history live in the state.  With
        ``convergence = {window: w, tolerance: tol}`` the loop stops early once the
        mean energy of the last w steps differs from that of the w before by less
        than tol.  ``monitor.after_step(state)`` runs after every step
        (checkpoints); when it returns True the loop stops at once and the flag
        returned is False (interrupted), else True.  A step with a non-finite
        energy, variance, gradient or parameter, or a variance above
        ``max_variance_ratio`` times the median of the earlier steps (0: no such
        test), raises :class:`~nqsflow.errors.DivergenceError` before it is kept.
        """
        window = int(with_defaults(convergence, "convergence")["window"]) if convergence else 0
        while state.step < steps and state.converged_at < 0:
            with np.errstate(over="ignore", invalid="ignore"):  # check_step names the overflow
                new, stats = self.step(state, samples)
            rows = state.history
            check_step(state.step + 1, stats.energy, stats.variance, stats.gradient, new.params,
                       rows["variance"], rows["energy"], max_variance_ratio)  # fmt: skip
            state = new
            rows["energy"].append(stats.energy)
            rows["energy_error"].append(stats.energy_error)
            rows["variance"].append(stats.variance)
            rows["acceptance"].append(stats.acceptance)
            rows["grad_norm"].append(float(np.linalg.norm(stats.gradient)))
            rows["parameters"].append(state.params.copy())
            state = replace(state, step=state.step + 1)
            if callback is not None:
                callback(state.step - 1, stats)
            if window and state.step >= 2 * window:
                recent = np.mean(rows["energy"][-window:])
                before = np.mean(rows["energy"][-2 * window : -window])
                if abs(recent - before) < convergence["tolerance"]:
                    state = replace(state, converged_at=state.step)
            if monitor is not None and monitor.after_step(state):
                return state, False
        return state, True

    def produce(self, state: VMCState, samples: int, bins: int = 100):
        """Production sampling at fixed parameters: mean energy with an honest error bar.

        Returns the new state and the estimate.  The error comes from the
        integrated autocorrelation time of each walker's own E_L chain, averaged
        over all walkers of all ranks (:func:`~nqsflow.stats.reduced_autocorrelation`):
        with thousands of walkers a few hundred rounds pin tau down, where blocking
        the walker-averaged series of those rounds has too few blocks and reported
        0.73-0.78 of the spread of repeated runs.  Ranks exchange the per-round
        energies (the stored ``energy_series``), then the autocovariances about the
        global mean at the lags the window needs (lag 0 is the variance).  Also
        histograms the distance of each particle from the trap centre (one-body
        density) and the pair distances over the Hamiltonian's ranges.
        """
        rounds = self._rounds(samples)
        fused = self.kernels()
        if fused is None:
            chunk = max(1, CHUNK_SAMPLES // self.walkers)
        else:  # the same wait for a signal at any thin and any number of particles
            work = self.walkers * self.thin * self.hamiltonian.particles**2
            chunk = max(1, KERNEL_CHUNK_WORK // work)
        e_local = np.empty((rounds, self.walkers))
        densities = Densities(self.hamiltonian, bins)
        for first in range(0, rounds, chunk):
            # a chunk of rounds at a time: a long production never holds all its
            # samples, nor a network's intermediates for all of them, at once, and
            # a signal (SLURM's SIGTERM) is seen between the kernels' calls
            n = min(chunk, rounds - first)
            if fused is not None:  # E_L and the histograms inside the kernel
                state, e_local[first : first + n] = fused.produce(state, n, self.thin, densities)
            else:
                state, x = self.sample(state, n * self.walkers * self.comm.size)
                flat = x.reshape(-1, *x.shape[2:])
                e_local[first : first + n] = self.local_energy(state.params, flat).reshape(n, -1)
                densities.add(flat)
        state, counts = self._take_move_counts(state)
        sums = self.comm.sum(
            np.concatenate([counts, e_local.sum(axis=1), [e_local.size], densities.counts()])
        )
        acceptance = _ratio(*sums[:2])
        sums = sums[2:]
        walkers = self.walkers * self.comm.size
        series = sums[:rounds] / walkers
        count = sums[rounds]
        histograms = densities.tree(sums[rounds + 1 :])
        energy = float(series.mean())
        # about the global mean, not <E^2> - <E>^2, which would lose the zero
        # variance of an exact state to round-off
        estimate = reduced_autocorrelation(e_local, energy, walkers, self.comm.sum)
        return state, {
            "energy": energy,
            "energy_error": estimate.error,
            "variance": estimate.variance,
            "acceptance": acceptance,
            "samples": int(count),
            "tau": estimate.tau,
            "ess": estimate.ess,
            "tau_window": estimate.window,
            "moves_per_round": self.thin,
            "energy_series": series,
            "histograms": histograms,
        }


def build_vmc(spec: Mapping[str, Any], comm=None) -> VMC:
    """The VMC object of a validated run spec, before burn-in (defaults: :mod:`runspec`)."""
    return _build(resolved_runspec(spec), comm)


def _build(spec: Mapping[str, Any], comm) -> VMC:
    # spec resolved: every key the run reads is present
    hamiltonian = build_hamiltonian(spec["system"])
    sampler = spec["sampler"]
    return VMC(
        hamiltonian,
        build_ansatz(spec["ansatz"], hamiltonian),
        build_sampler(sampler, hamiltonian),
        build_optimizer(spec["optimizer"]),
        walkers=sampler["walkers"],
        thin=sampler["thin"],
        block_size=sampler["block_size"],
        clip=spec["optimizer"]["clip_local_energy"],
        comm=comm,
    )


def run(
    spec: Mapping[str, Any],
    comm=None,
    callback: Callable | None = None,
    *,
    monitor=None,
    snapshot: Mapping[str, Any] | None = None,
) -> VMCResult | None:
    """Optimise and then measure the ansatz of a validated run spec.

    ``snapshot`` (this rank's, from :meth:`VMCState.snapshot`) resumes an interrupted
    run; ``monitor`` sees every step and the end of the optimisation (it writes
    checkpoints).  Returns None when the monitor interrupted the run.  BLAS runs
    on one thread meanwhile: the walker batches are small, and K ranks on K cores
    each spinning a thread pool ran 40x slower (29 s against 0.7 s for two ranks).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _run(spec, comm, callback, monitor, snapshot)


def _run(spec, comm, callback, monitor, snapshot) -> VMCResult | None:
    spec = resolved_runspec(spec)  # the one place defaults enter: the builders read plain keys
    vmc = _build(spec, comm)
    if snapshot is not None:
        state = vmc.restore(spec["seed"], snapshot)
    else:
        state = vmc.init(spec["seed"], spec["sampler"]["burn_in"])
    opt = spec["optimizer"]
    state, finished = vmc.optimize(
        state,
        opt["steps"],
        opt["samples"],
        callback,
        opt.get("convergence"),  # optional: absent, no early stop
        monitor,
        opt["max_variance_ratio"],
    )
    if not finished:
        return None
    if monitor is not None:
        monitor.after_optimization(state)
    production = spec["production"]
    state, prod = vmc.produce(state, production["samples"], production["bins"])
    return VMCResult(
        params_initial=state.params_initial.copy(),
        params_final=state.params.copy(),
        param_names=vmc.ansatz.param_names(),
        history=state.history_arrays(),
        converged_at=state.converged_at,
        **prod,
    )
