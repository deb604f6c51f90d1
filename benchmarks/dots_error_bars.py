"""Are the error bars of many-electron runs honest?  Spread over seeds vs error bars.

Six electrons at omega = 1, Slater x Pade-Jastrow at fixed, optimised
parameters (alpha 0.967, beta unlike 0.572, like 0.282), production runs only,
one per seed, for each sampler.  The ratio mean(reported error) / std(energies)
should be near 1 (with 20 seeds, 0.7-1.3 is within statistical tolerance).
E_L has heavy tails near the nodes, so the spread of a few dozen runs is a
skewed estimate of the true one (usually low).  ``--walker-means`` checks the
reported error within each run against one that assumes nothing about the
autocorrelation: the spread of the walkers' own chain means over sqrt(W),
exact for independent walkers.

Usage: python benchmarks/dots_error_bars.py [--seeds 20] [--samples 100000] [--walker-means]
"""

from __future__ import annotations

import argparse

import numpy as np

from nqsflow.stats import correlated_mean
from nqsflow.vmc.driver import build_vmc, run


def spec(sampler: str, seed: int, samples: int) -> dict:
    return {
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "slater", "alpha": 0.967},
                   {"kind": "pade_jastrow", "beta_unlike": 0.572, "beta_like": 0.282}],
        "sampler": {"kind": sampler, "walkers": 500, "step": 0.5 if sampler == "langevin" else 1.0,
                    "burn_in": 200, "thin": 1},
        "optimizer": {"kind": "sgd", "steps": 0},
        "production": {"samples": samples},
        "seed": seed,
    }


def walker_means(sampler: str, seed: int, samples: int) -> tuple[float, float]:
    """Autocorrelation error and walker-means error of one production's E_L (rounds, W)."""
    vmc = build_vmc(spec(sampler, seed, samples))
    state, x = vmc.sample(vmc.init(seed, 200), samples)
    e = vmc.local_energy(state.params, x.reshape(-1, *x.shape[2:])).reshape(x.shape[:2])
    return correlated_mean(e).error, float(e.mean(0).std(ddof=1) / np.sqrt(e.shape[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--samples", type=int, default=100000)
    parser.add_argument("--walker-means", action="store_true")
    args = parser.parse_args()
    if args.walker_means:
        print("| sampler | runs | rms autocorrelation error | rms walker-means error |")
        print("|---|---|---|---|")
        for sampler in ("langevin", "metropolis"):
            pairs = np.array([walker_means(sampler, seed, args.samples)
                              for seed in range(args.seeds)])  # fmt: skip
            rms = np.sqrt(np.mean(pairs**2, axis=0))
            print(f"| {sampler} | {args.seeds} | {rms[0]:.5f} | {rms[1]:.5f} |", flush=True)
        return
    print("| sampler | runs | mean E | std of E over runs | mean reported error | ratio |")
    print("|---|---|---|---|---|---|")
    for sampler in ("langevin", "metropolis"):
        results = [run(spec(sampler, seed, args.samples)) for seed in range(args.seeds)]
        energies = np.array([r.energy for r in results])
        errors = np.array([r.energy_error for r in results])
        spread = energies.std(ddof=1)
        print(f"| {sampler} | {args.seeds} | {energies.mean():.5f} | {spread:.5f} "
              f"| {errors.mean():.5f} | {errors.mean() / spread:.2f} |", flush=True)


if __name__ == "__main__":
    main()
