"""Are the production error bars honest?  Spread of repeated runs against the reported error.

Two electrons in a 2D dot at omega = 1 with a fixed Gaussian x Pade-Jastrow
(no optimisation): each seed burns in and runs one production.  For each
sampler and walker count the table gives the spread (standard deviation) of
the energies over seeds and the mean reported error of the autocorrelation
estimator (the driver's) and, for comparison, of automatic blocking of the
walker-averaged series (what production reported before).  spread / error near
1 is honest; with S seeds its statistical tolerance is about 1 +- 1/sqrt(2 S).

``--optimised N`` instead optimises RBM(4) x Pade-Jastrow (300 SR steps, the
default study's settings) and runs N consecutive productions of 400 000
samples from that one state (2000 walkers x 200 rounds each).

Usage: python benchmarks/vmc_error_bars.py [--seeds 40] [--case langevin:2000:200 ...]
       python benchmarks/vmc_error_bars.py --optimised 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nqsflow.stats import blocking_error
from nqsflow.vmc.driver import build_vmc

CASES = ("langevin:2000:200", "metropolis:500:400", "langevin:100:4000",
         "metropolis:100:4000", "langevin:1:5000", "metropolis:1:5000")  # fmt: skip


def spec(sampler: str, walkers: int, seed: int) -> dict:
    """A fixed wave function: no optimisation steps, one move per round."""
    return {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "gaussian", "alpha": 0.95}, {"kind": "pade_jastrow", "beta": 0.4}],
        "sampler": {"kind": sampler, "walkers": walkers, "burn_in": 100, "thin": 1},
        "optimizer": {"kind": "sgd", "steps": 0},
        "production": {"samples": 1},
        "seed": seed,
    }


def repeated(sampler: str, walkers: int, rounds: int, seeds: int) -> dict[str, np.ndarray]:
    """Energy, autocorrelation error, tau and blocking error of ``seeds`` independent runs."""
    rows = []
    for seed in range(seeds):
        vmc = build_vmc(spec(sampler, walkers, seed))
        state = vmc.init(seed, 100)
        _, out = vmc.produce(state, rounds * walkers)
        rows.append((out["energy"], out["energy_error"], out["tau"],
                     blocking_error(out["energy_series"]).error))  # fmt: skip
    return dict(zip(("energy", "error", "tau", "blocking"), np.array(rows).T, strict=True))


def consecutive(productions: int) -> dict[str, np.ndarray]:
    """The same columns for consecutive productions after one optimisation."""
    run_spec = spec("langevin", 2000, 0)
    run_spec["ansatz"] = [{"kind": "rbm", "hidden": 4, "sigma": 1.0, "init_std": 0.1},
                          {"kind": "pade_jastrow", "beta": 0.4}]  # fmt: skip
    run_spec["sampler"]["step"] = 0.3
    run_spec["optimizer"] = {"kind": "sr", "learning_rate": 0.2, "schedule": "cosine",
                             "final_learning_rate": 0.01, "diag_shift": 0.001, "steps": 300,
                             "samples": 2000}  # fmt: skip
    vmc = build_vmc(run_spec)
    state, _ = vmc.optimize(vmc.init(0, 100), 300, 2000)
    rows = []
    for _ in range(productions):
        state, out = vmc.produce(state, 400000)
        rows.append((out["energy"], out["energy_error"], out["tau"],
                     blocking_error(out["energy_series"]).error))  # fmt: skip
    return dict(zip(("energy", "error", "tau", "blocking"), np.array(rows).T, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--case", nargs="+", default=list(CASES),
                        help="sampler:walkers:rounds")  # fmt: skip
    parser.add_argument("--optimised", type=int, default=0, metavar="N",
                        help="N consecutive productions of an optimised RBM x Pade state")
    args = parser.parse_args()
    print("| sampler | walkers x rounds | seeds | tau (moves) | spread / autocorr. error "
          "| spread / blocking error | s per run |")
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        if args.optimised:
            start = time.perf_counter()
            r = consecutive(args.optimised)
            seconds = (time.perf_counter() - start) / args.optimised
            spread = r["energy"].std(ddof=1)
            print(f"| langevin, RBM x Pade after 300 SR steps | 2000 x 200 | {args.optimised} "
                  f"(consecutive) | {r['tau'].mean():.2f} | {spread / r['error'].mean():.2f} "
                  f"| {spread / r['blocking'].mean():.2f} | {seconds:.2f} |")
            return
        for case in args.case:
            sampler, walkers, rounds = case.split(":")
            start = time.perf_counter()
            r = repeated(sampler, int(walkers), int(rounds), args.seeds)
            seconds = (time.perf_counter() - start) / args.seeds
            spread = r["energy"].std(ddof=1)
            print(f"| {sampler} | {walkers} x {rounds} | {args.seeds} | {r['tau'].mean():.2f} "
                  f"| {spread / r['error'].mean():.2f} | {spread / r['blocking'].mean():.2f} "
                  f"| {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
