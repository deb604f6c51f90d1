"""The VMC loop: sampling, local energies, the energy gradient, optimisation, production.

The driver is handed its communicator (serial or MPI) and builds its random
streams from the seed, so it runs and tests without MPI or files.  Each rank
owns one set of walkers; ranks exchange only sums.  Rank r's stream comes from
``SeedSequence(seed, spawn_key=(r,))``; the initial parameters come from a
stream of their own, identical on every rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nqsflow.stats import blocking_error
from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.optimizers import build_optimizer
from nqsflow.vmc.parallel import SerialComm
from nqsflow.vmc.samplers import SamplerState, build_sampler, burn_in
from nqsflow.vmc.wavefunctions import ProductAnsatz, build_ansatz

PARAMS_STREAM = 1 << 30  # spawn key of the parameter stream, apart from any rank's


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
    energy_series: np.ndarray = field(repr=False)


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
        comm=None,
    ):
        self.hamiltonian = hamiltonian
        self.ansatz = ansatz
        self.sampler = sampler
        self.optimizer = optimizer
        self.comm = comm if comm is not None else SerialComm()
        self.walkers = int(walkers)
        self.thin = int(thin)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(self.comm.rank,)))
        param_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PARAMS_STREAM,)))
        self.params = ansatz.initial_params(param_rng)
        self.opt_state = optimizer.init(self.params)
        self.state: SamplerState | None = None

    # -- wave-function evaluators bound to the current parameters --------------
    def _log_psi(self, x):
        return self.ansatz.log_psi(self.params, x)

    def _grad(self, x):
        return self.ansatz.grad_log_psi(self.params, x)

    def local_energy(self, x: np.ndarray) -> np.ndarray:
        """E_L of each walker at positions ``x`` (W, N, d)."""
        return self.hamiltonian.local_energy(self.ansatz.grad_lap(self.params, x), x)

    def start(self, burn_in_sweeps: int) -> None:
        """Place the walkers around the trap centre and equilibrate them."""
        scale = 1.0 / np.sqrt(self.hamiltonian.omega)
        x0 = scale * self.rng.standard_normal((self.walkers, *self.hamiltonian.shape))
        self.state = self.sampler.init(x0, self._log_psi, self._grad)
        self.state = burn_in(
            self.sampler, self.rng, self.state, self._log_psi, self._grad, burn_in_sweeps
        )

    def _rounds(self, samples: int) -> int:
        per_rank = -(-samples // self.comm.size)
        return max(1, -(-per_rank // self.walkers))

    def sample(self, samples: int) -> np.ndarray:
        """Positions of about ``samples`` draws over all ranks, (rounds, W, N, d) on this rank."""
        rounds = self._rounds(samples)
        out = np.empty((rounds, self.walkers, *self.hamiltonian.shape))
        state = self.state
        for k in range(rounds):
            for _ in range(self.thin):
                state = self.sampler.step(self.rng, state, self._log_psi, self._grad)
            out[k] = state.positions
        self.state = state
        return out

    def _acceptance(self) -> float:
        counts = self.comm.sum(np.array([self.state.accepted, self.state.proposed]))
        self.state.accepted = self.state.proposed = 0
        return float(counts[0] / counts[1]) if counts[1] else float("nan")

    def gradient_step(self, samples: int) -> StepStats:
        """Estimate E and its gradient 2(<E_L O> - <E_L><O>), then update the parameters."""
        x = self.sample(samples)
        x = x.reshape(-1, *x.shape[2:])
        e_local = self.local_energy(x)
        o = self.ansatz.param_grad(self.params, x)
        n_params = o.shape[1]
        sums = self.comm.sum(
            np.concatenate(
                [[e_local.size, e_local.sum(), e_local @ e_local], o.sum(0), e_local @ o]
            )
        )
        count, e_sum, e2_sum = sums[:3]
        o_mean = sums[3 : 3 + n_params] / count
        eo_mean = sums[3 + n_params :] / count
        energy = e_sum / count
        variance = max(e2_sum / count - energy**2, 0.0)
        gradient = 2.0 * (eo_mean - energy * o_mean)
        self.params, self.opt_state = self.optimizer.update(self.params, gradient, self.opt_state)
        self.state = self.sampler.refresh(self.state, self._log_psi, self._grad)
        return StepStats(
            float(energy),
            float(np.sqrt(variance / count)),
            float(variance),
            self._acceptance(),
            gradient,
        )

    def optimize(self, steps: int, samples: int, callback: Callable | None = None):
        """Run ``steps`` optimisation steps of ``samples`` draws each; history as arrays."""
        rows: dict[str, list] = {
            k: [] for k in ("energy", "energy_error", "variance", "acceptance", "grad_norm")
        }
        params = [self.params.copy()]
        for step in range(steps):
            stats = self.gradient_step(samples)
            rows["energy"].append(stats.energy)
            rows["energy_error"].append(stats.energy_error)
            rows["variance"].append(stats.variance)
            rows["acceptance"].append(stats.acceptance)
            rows["grad_norm"].append(float(np.linalg.norm(stats.gradient)))
            params.append(self.params.copy())
            if callback is not None:
                callback(step, stats)
        history = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
        history["parameters"] = np.asarray(params)
        return history

    def produce(self, samples: int) -> dict[str, Any]:
        """Production sampling at fixed parameters: mean energy with a blocking error bar.

        The blocked series is the walker average of E_L at each round, summed over
        ranks, so its length is the same on every rank and the error accounts for
        the autocorrelation along the chains.
        """
        x = self.sample(samples)
        rounds = x.shape[0]
        e_local = self.local_energy(x.reshape(-1, *x.shape[2:])).reshape(rounds, self.walkers)
        sums = self.comm.sum(
            np.concatenate([e_local.sum(axis=1), [np.sum(e_local**2), e_local.size]])
        )
        count = sums[-1]
        series = sums[:rounds] / (self.walkers * self.comm.size)
        block = blocking_error(series) if rounds >= 2 else None
        energy = float(series.mean())
        variance = max(float(sums[rounds] / count - energy**2), 0.0)
        error = block.error if block is not None else float(np.sqrt(variance / count))
        return {
            "energy": energy,
            "energy_error": error,
            "variance": variance,
            "acceptance": self._acceptance(),
            "samples": int(count),
            "blocking_level": block.level if block is not None else 0,
            "energy_series": series,
        }


def run(spec: Mapping[str, Any], comm=None, callback: Callable | None = None) -> VMCResult:
    """Optimise and then measure the ansatz of a validated run spec."""
    system_spec = spec["system"]
    hamiltonian = HarmonicTrap(
        system_spec["omega"],
        system_spec["particles"],
        system_spec["dim"],
        system_spec["interaction"],
    )
    ansatz = build_ansatz(spec["ansatz"], hamiltonian)
    sampler_spec = spec["sampler"]
    vmc = VMC(
        hamiltonian,
        ansatz,
        build_sampler(sampler_spec, hamiltonian.omega),
        build_optimizer(spec["optimizer"]),
        seed=spec["seed"],
        walkers=sampler_spec.get("walkers", 500),
        thin=sampler_spec.get("thin", 4),
        comm=comm,
    )
    params_initial = vmc.params.copy()
    vmc.start(sampler_spec.get("burn_in", 200))
    opt = spec["optimizer"]
    history = vmc.optimize(opt.get("steps", 100), opt.get("samples", 2000), callback)
    prod = vmc.produce(spec["production"]["samples"])
    return VMCResult(
        params_initial=params_initial,
        params_final=vmc.params.copy(),
        param_names=ansatz.param_names(),
        history=history,
        **prod,
    )
