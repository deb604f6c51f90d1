"""Decorrelation moves during SR: do extra moves per step reach a given energy sooner?

During optimisation each walker makes ``moves`` moves between measured rounds
(``sampler.thin``; the default study's 1 with 2000 samples on 2000 walkers is
one Langevin move per walker per SR step).  More moves let the walkers catch up
with the changing psi and decorrelate the samples of successive steps, at the
cost of sampler work (moves discarded after the update are the same thing:
nothing is measured between the update and the next round).  At equal wall
time (the step count of each variant scaled by its cost per step, measured
interleaved in the same process, each with its own cosine schedule), the
energy of the parameters reached is measured at fractions T of the time budget
by an independent production run (``--eval`` samples), averaged over seeds
(± the standard error over seeds).  ``--equal-steps`` compares per step
instead.  The default study's problem: 2 electrons in a 2D dot, RBM(4) x
Pade-Jastrow, SR 0.2 -> 0.01 cosine.

Usage: python benchmarks/sr_decorrelation.py [--moves 1 2 4] [--steps 600] [--seeds 3]
       [--equal-steps]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

from nqsflow.data import two_body_energy
from nqsflow.vmc.driver import build_vmc
from nqsflow.vmc.samplers import burn_in

FRACTIONS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def spec(omega: float, steps: int, seed: int) -> dict:
    return {
        "system": {"particles": 2, "dim": 2, "omega": omega, "interaction": "coulomb"},
        "ansatz": [{"kind": "rbm", "hidden": 4, "sigma": 1.0, "init_std": 0.1},
                   {"kind": "pade_jastrow", "beta": 0.4}],
        "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 100, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.2, "schedule": "cosine",
                      "final_learning_rate": 0.01, "diag_shift": 0.001, "steps": steps,
                      "samples": 2000},
        "production": {"samples": 1},
        "seed": seed,
    }  # fmt: skip


def cost_per_step(omega: float, moves: list[int], steps: int = 15, repeats: int = 3) -> dict:
    """Seconds per SR step of each variant, the least of interleaved repeats (a shared machine)."""
    best = dict.fromkeys(moves, np.inf)
    for _ in range(repeats):
        for m in moves:
            vmc = build_vmc(spec(omega, 100, 0))
            vmc.thin = m
            state = vmc.init(0, 20)
            start = time.perf_counter()
            vmc.optimize(state, steps, 2000)
            best[m] = min(best[m], (time.perf_counter() - start) / steps)
    return best


def optimise(omega: float, moves: int, steps: int, seed: int) -> np.ndarray:
    """Parameters after every step, (steps, P)."""
    vmc = build_vmc(spec(omega, steps, seed))
    vmc.thin = moves
    state, _ = vmc.optimize(vmc.init(seed, 100), steps, 2000)
    return np.array(state.history["parameters"])


def energy_of(evaluator, state, params: np.ndarray, samples: int) -> tuple[float, float]:
    """Production energy and its error at fixed ``params`` (walkers re-equilibrated)."""
    state = replace(state, params=params)
    wf = evaluator.wf(state)
    walkers = evaluator.sampler.refresh(state.walkers, wf)
    walkers = burn_in(evaluator.sampler, state.rng, walkers, wf, 50, adapt=False)
    state, out = evaluator.produce(replace(state, walkers=walkers), samples)
    return out["energy"], out["energy_error"], state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omega", type=float, default=1.0)
    parser.add_argument("--moves", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=600, help="SR steps of the 1-move variant")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval", type=int, default=200000, help="samples per evaluation")
    parser.add_argument("--equal-steps", action="store_true",
                        help="the same step count for every variant (per step, not per second)")
    args = parser.parse_args()
    exact = two_body_energy(args.omega)
    with threadpool_limits(limits=1, user_api="blas"):
        cost = cost_per_step(args.omega, args.moves)
        base = cost[args.moves[0]]
        evaluator = build_vmc(spec(args.omega, 1, 99))
        eval_state = evaluator.init(99, 100)
        equal = "equal steps" if args.equal_steps else "equal wall time"
        print(f"omega = {args.omega:g}, exact {exact:.5f}; {equal}: {args.steps} steps "
              f"of {args.moves[0]} move(s), {args.seeds} seeds, evaluations of {args.eval} "
              "samples\n")
        print("| moves/step | s/step | steps | " + " | ".join(
            f"E - exact at {f:g} T" for f in FRACTIONS) + " |")
        print("|---|---|---|" + "---|" * len(FRACTIONS))
        for m in args.moves:
            steps = args.steps if args.equal_steps else max(1, round(args.steps * base / cost[m]))
            rows = []
            for seed in range(args.seeds):
                params = optimise(args.omega, m, steps, seed)
                row = []
                for f in FRACTIONS:
                    # the time axis is steps x measured cost per step: on a shared machine
                    # the wall time of one run is noisier than the interleaved cost ratio
                    k = max(0, round(f * steps) - 1)
                    e, _, eval_state = energy_of(evaluator, eval_state, params[k], args.eval)
                    row.append(e - exact)
                rows.append(row)
            rows = np.array(rows)
            mean, spread = rows.mean(0), rows.std(0, ddof=1) / np.sqrt(len(rows))
            cells = " | ".join(f"{a:.2e} ± {b:.0e}" for a, b in zip(mean, spread, strict=True))
            print(f"| {m} | {cost[m] * 1e3:.1f} ms | {steps} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
