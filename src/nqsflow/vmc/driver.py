"""The VMC loop: sampling, local energies, the energy gradient, optimisation, production.

The driver is handed its communicator (serial or MPI) and builds its random
streams from the seed, so it runs and tests without MPI or files.  Each rank
owns one set of walkers; ranks exchange only sums.  Rank r's stream comes from
``SeedSequence(seed, spawn_key=(r,))``, or, with ``block_size``, each block of
walkers has its own stream (see :mod:`streams`); the initial parameters come
from a stream of their own, identical on every rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from nqsflow.stats import blocking_error
from nqsflow.vmc.geometry import pair_vectors
from nqsflow.vmc.hamiltonians import HarmonicTrap, build_hamiltonian
from nqsflow.vmc.optimizers import build_optimizer
from nqsflow.vmc.parallel import SerialComm
from nqsflow.vmc.samplers import SamplerState, build_sampler, burn_in
from nqsflow.vmc.streams import WalkerStreams
from nqsflow.vmc.wavefunctions import ProductAnsatz, build_ansatz

PARAMS_STREAM = 1 << 30  # spawn key of the parameter stream, apart from any rank's
HISTORY_KEYS = ("energy", "energy_error", "variance", "acceptance", "grad_norm", "parameters")


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
    blocking_level: int
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
        seed: int,
        walkers: int = 500,
        thin: int = 4,
        block_size: int | None = None,
        comm=None,
    ):
        self.hamiltonian = hamiltonian
        self.ansatz = ansatz
        self.sampler = sampler
        self.optimizer = optimizer
        self.comm = comm if comm is not None else SerialComm()
        self.walkers = int(walkers)
        self.thin = int(thin)
        self.rng = WalkerStreams(seed, self.walkers, block_size or self.walkers, self.comm.rank)
        param_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PARAMS_STREAM,)))
        self.params = ansatz.initial_params(param_rng)
        self.params_initial = self.params.copy()
        self.opt_state = optimizer.init(self.params)
        self.state: SamplerState | None = None
        self.step = 0
        self.converged_at = -1
        self.history: dict[str, list] = {k: [] for k in HISTORY_KEYS}

    @property
    def wf(self) -> BoundWavefunction:
        """The ansatz at the current parameters."""
        return BoundWavefunction(self.ansatz, self.params)

    def local_energy(self, x: np.ndarray) -> np.ndarray:
        """E_L of each walker at positions ``x`` (W, N, d)."""
        pairs = pair_vectors(x) if x.shape[1] > 1 else None
        grad, lap = self.ansatz.grad_lap(self.params, x, pairs)
        return self.hamiltonian.local_energy(grad, lap, x, None if pairs is None else pairs[1])

    def local_energy_and_derivatives(self, x: np.ndarray):
        """E_L (W,) and O = d ln psi / d p (W, P) at positions ``x``, sharing the work."""
        pairs = pair_vectors(x) if x.shape[1] > 1 else None
        grad, lap, o = self.ansatz.local_terms(self.params, x, pairs)
        r = None if pairs is None else pairs[1]
        return self.hamiltonian.local_energy(grad, lap, x, r), o

    def start(self, burn_in_sweeps: int) -> None:
        """Place the walkers around the trap centre and equilibrate them."""
        scale = 1.0 / np.sqrt(self.hamiltonian.omega)
        x0 = scale * self.rng.standard_normal((self.walkers, *self.hamiltonian.shape))
        if self.hamiltonian.interaction == "hard_sphere":
            x0 = self._separate(x0)
        self.state = self.sampler.init(x0, self.wf)
        self.state = burn_in(
            self.sampler, self.rng, self.state, self.wf, burn_in_sweeps, total=self.comm.sum
        )

    def _separate(self, x: np.ndarray) -> np.ndarray:
        # redraw walkers with overlapping hard cores: a chain must start where psi != 0
        radius = self.hamiltonian.radius
        for _ in range(1000):
            bad = np.any(pair_vectors(x)[1] <= radius, axis=1)
            if not bad.any():
                return x
            # draw for every walker so each block's stream advances the same way
            x[bad] = x[bad] + radius * self.rng.standard_normal(x.shape)[bad]
        raise RuntimeError("could not place walkers without overlapping hard cores")

    def _rounds(self, samples: int) -> int:
        per_rank = -(-samples // self.comm.size)
        return max(1, -(-per_rank // self.walkers))

    def sample(self, samples: int) -> np.ndarray:
        """Positions of about ``samples`` draws over all ranks, (rounds, W, N, d) on this rank."""
        rounds = self._rounds(samples)
        out = np.empty((rounds, self.walkers, *self.hamiltonian.shape))
        state, wf = self.state, self.wf
        for k in range(rounds):
            for _ in range(self.thin):
                state = self.sampler.step(self.rng, state, wf)
            out[k] = state.positions
        self.state = state
        return out

    def _take_move_counts(self) -> list[float]:
        # this rank's accepted and proposed moves since the last call; they ride
        # along in the step's one reduction instead of a collective of their own
        counts = [float(self.state.accepted), float(self.state.proposed)]
        self.state.accepted = self.state.proposed = 0
        return counts

    def gradient_step(self, samples: int) -> StepStats:
        """Estimate E and its gradient 2(<E_L O> - <E_L><O>), then update the parameters."""
        x = self.sample(samples)
        x = x.reshape(-1, *x.shape[2:])
        e_local, o = self.local_energy_and_derivatives(x)
        n_params = o.shape[1]
        parts = [
            self._take_move_counts(),
            [e_local.size, e_local.sum(), e_local @ e_local],
            o.sum(0),
            e_local @ o,
        ]
        if self.optimizer.needs_metric:
            parts.append((o.T @ o).ravel())
        sums = self.comm.sum(np.concatenate(parts))
        acceptance = _ratio(*sums[:2])
        sums = sums[2:]
        count, e_sum, e2_sum = sums[:3]
        o_mean = sums[3 : 3 + n_params] / count
        eo_mean = sums[3 + n_params : 3 + 2 * n_params] / count
        energy = e_sum / count
        variance = max(e2_sum / count - energy**2, 0.0)
        gradient = 2.0 * (eo_mean - energy * o_mean)
        metric = None
        if self.optimizer.needs_metric:
            oo = sums[3 + 2 * n_params :].reshape(n_params, n_params) / count
            metric = oo - np.outer(o_mean, o_mean)
        self.params, self.opt_state = self.optimizer.update(
            self.params, gradient, self.opt_state, metric
        )
        self.state = self.sampler.refresh(self.state, self.wf)
        return StepStats(
            float(energy),
            float(np.sqrt(variance / count)),
            float(variance),
            acceptance,
            gradient,
        )

    def optimize(
        self,
        steps: int,
        samples: int,
        callback: Callable | None = None,
        convergence: Mapping[str, float] | None = None,
        monitor=None,
    ) -> bool:
        """Continue the optimisation up to ``steps`` steps of ``samples`` draws each.

        Resumable: the step counter and history live on the object (see
        :meth:`snapshot`).  With ``convergence = {window: w, tolerance: tol}`` the
        loop stops early once the mean energy of the last w steps differs from that
        of the w before by less than tol.  ``monitor.after_step(vmc)`` runs after
        every step (checkpoints); when it returns True the loop stops at once and
        this returns False (interrupted), else True.
        """
        window = int(convergence.get("window", 20)) if convergence else 0
        rows = self.history
        while self.step < steps and self.converged_at < 0:
            stats = self.gradient_step(samples)
            rows["energy"].append(stats.energy)
            rows["energy_error"].append(stats.energy_error)
            rows["variance"].append(stats.variance)
            rows["acceptance"].append(stats.acceptance)
            rows["grad_norm"].append(float(np.linalg.norm(stats.gradient)))
            rows["parameters"].append(self.params.copy())
            self.step += 1
            if callback is not None:
                callback(self.step - 1, stats)
            if window and self.step >= 2 * window:
                recent = np.mean(rows["energy"][-window:])
                before = np.mean(rows["energy"][-2 * window : -window])
                if abs(recent - before) < convergence["tolerance"]:
                    self.converged_at = self.step
            if monitor is not None and monitor.after_step(self):
                return False
        return True

    def history_arrays(self) -> dict[str, np.ndarray]:
        """The optimisation history as arrays; ``parameters`` has one more row (the start)."""
        out = {k: np.asarray(v, dtype=float) for k, v in self.history.items()}
        out["parameters"] = np.asarray([self.params_initial, *self.history["parameters"]])
        return out

    def snapshot(self) -> dict[str, Any]:
        """This rank's complete state: enough to continue bit for bit (see :meth:`restore`)."""
        state = self.state
        return {
            "step": self.step,
            "converged_at": self.converged_at,
            "params": self.params.copy(),
            "params_initial": self.params_initial.copy(),
            "optimizer": {k: np.asarray(v).copy() for k, v in self.opt_state.items()},
            "history": {k: np.asarray(v, dtype=float) for k, v in self.history.items()},
            "positions": state.positions.copy(),
            "log_psi": state.log_psi.copy(),
            "drift": None if state.drift is None else state.drift.copy(),
            "step_size": state.step,
            "accepted": state.accepted,
            "proposed": state.proposed,
            "rng": self.rng.state,
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Continue from a :meth:`snapshot` taken by the same rank of an identical run."""
        self.step = int(snap["step"])
        self.converged_at = int(snap["converged_at"])
        self.params = np.array(snap["params"], dtype=float)
        self.params_initial = np.array(snap["params_initial"], dtype=float)
        self.opt_state = {k: np.array(v) for k, v in snap["optimizer"].items()}
        self.history = {k: list(np.asarray(v)) for k, v in snap["history"].items()}
        drift = snap.get("drift")
        self.state = SamplerState(
            np.array(snap["positions"]),
            np.array(snap["log_psi"]),
            None if drift is None else np.array(drift),
            float(snap["step_size"]),
            int(snap["accepted"]),
            int(snap["proposed"]),
        )
        self.rng.state = snap["rng"]

    def produce(self, samples: int, bins: int = 100) -> dict[str, Any]:
        """Production sampling at fixed parameters: mean energy with a blocking error bar.

        The blocked series is the walker average of E_L at each round, summed over
        ranks, so its length is the same on every rank and the error accounts for
        the autocorrelation along the chains.  Also histograms the distance of each
        particle from the trap centre (one-body density) and the pair distances,
        over ranges of 5 and 7 oscillator lengths.
        """
        x = self.sample(samples)
        rounds = x.shape[0]
        flat = x.reshape(-1, *x.shape[2:])
        e_local = self.local_energy(flat).reshape(rounds, self.walkers)
        length = 1.0 / np.sqrt(self.hamiltonian.omega)
        radial_edges = np.linspace(0.0, 5.0 * length, bins + 1)
        pair_edges = np.linspace(0.0, 7.0 * length, bins + 1)
        radial = np.histogram(np.linalg.norm(flat, axis=2), radial_edges)[0]
        if flat.shape[1] > 1:
            pair = np.histogram(pair_vectors(flat)[1], pair_edges)[0]
        else:
            pair = np.zeros(bins)
        sums = self.comm.sum(
            np.concatenate(
                [self._take_move_counts(), e_local.sum(axis=1), [e_local.size], radial, pair]
            )
        )
        acceptance = _ratio(*sums[:2])
        sums = sums[2:]
        series = sums[:rounds] / (self.walkers * self.comm.size)
        count = sums[rounds]
        radial_counts = sums[rounds + 1 : rounds + 1 + bins]
        pair_counts = sums[rounds + 1 + bins :]
        block = blocking_error(series) if rounds >= 2 else None
        energy = float(series.mean())
        # second pass about the mean: <E^2> - <E>^2 would lose the zero variance of
        # an exact state to round-off
        deviation = e_local - energy
        variance = float(self.comm.sum(np.array([np.sum(deviation**2)]))[0] / count)
        error = block.error if block is not None else float(np.sqrt(variance / count))
        return {
            "energy": energy,
            "energy_error": error,
            "variance": variance,
            "acceptance": acceptance,
            "samples": int(count),
            "blocking_level": block.level if block is not None else 0,
            "energy_series": series,
            "histograms": {
                "radial_edges": radial_edges,
                "radial_counts": radial_counts,
                "pair_edges": pair_edges,
                "pair_counts": pair_counts,
            },
        }


def build_vmc(spec: Mapping[str, Any], comm=None) -> VMC:
    """The VMC object of a validated run spec, before burn-in."""
    hamiltonian = build_hamiltonian(spec["system"])
    sampler_spec = spec["sampler"]
    return VMC(
        hamiltonian,
        build_ansatz(spec["ansatz"], hamiltonian),
        build_sampler(sampler_spec, hamiltonian.omega),
        build_optimizer(spec["optimizer"]),
        seed=spec["seed"],
        walkers=sampler_spec.get("walkers", 500),
        thin=sampler_spec.get("thin", 4),
        block_size=sampler_spec.get("block_size"),
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

    ``snapshot`` (this rank's, from :meth:`VMC.snapshot`) resumes an interrupted
    run; ``monitor`` sees every step and the end of the optimisation (it writes
    checkpoints).  Returns None when the monitor interrupted the run.  BLAS runs
    on one thread meanwhile: the walker batches are small, and K ranks on K cores
    each spinning a thread pool ran 40x slower (29 s against 0.7 s for two ranks).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _run(spec, comm, callback, monitor, snapshot)


def _run(spec, comm, callback, monitor, snapshot) -> VMCResult | None:
    vmc = build_vmc(spec, comm)
    if snapshot is not None:
        vmc.restore(snapshot)
    else:
        vmc.start(spec["sampler"].get("burn_in", 200))
    opt = spec["optimizer"]
    finished = vmc.optimize(
        opt.get("steps", 100), opt.get("samples", 2000), callback, opt.get("convergence"), monitor
    )
    if not finished:
        return None
    if monitor is not None:
        monitor.after_optimization(vmc)
    production = spec["production"]
    prod = vmc.produce(production["samples"], production.get("bins", 100))
    return VMCResult(
        params_initial=vmc.params_initial.copy(),
        params_final=vmc.params.copy(),
        param_names=vmc.ansatz.param_names(),
        history=vmc.history_arrays(),
        converged_at=vmc.converged_at,
        **prod,
    )
