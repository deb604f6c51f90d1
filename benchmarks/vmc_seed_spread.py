"""Are the error bars honest?  Spread of optimised VMC energies over seeds vs their error bars.

The 2-electron dot with RBM(4) x Pade-Jastrow as in the default study (SR, 600
steps, 400k production samples), 8 seeds at each omega.  A ratio near 1 means the
error bar of one run describes the run-to-run scatter, optimisation jitter included.
Usage: python benchmarks/vmc_seed_spread.py [--omega 0.2 0.5 1.3] [--seeds 8]
"""

from __future__ import annotations

import argparse

import numpy as np

from nqsflow.data import two_body_energy
from nqsflow.vmc.driver import run


def spec(omega: float, seed: int) -> dict:
    return {
        "system": {"particles": 2, "dim": 2, "omega": omega, "interaction": "coulomb"},
        "ansatz": [{"kind": "rbm", "hidden": 4, "init_std": 0.1},
                   {"kind": "pade_jastrow", "beta": 0.4}],
        "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 100, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 0.2, "steps": 600, "samples": 2000,
                      "diag_shift": 0.001, "schedule": "cosine", "final_learning_rate": 0.01},
        "production": {"samples": 400000},
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omega", type=float, nargs="+", default=[0.2, 0.5, 1.0, 1.3])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    print("| omega | mean E - exact | spread over seeds | mean error bar | ratio |")
    print("|---|---|---|---|---|")
    for omega in args.omega:
        results = [run(spec(omega, seed)) for seed in range(args.seeds)]
        energies = np.array([r.energy for r in results])
        errors = np.array([r.energy_error for r in results])
        spread = energies.std(ddof=1)
        print(f"| {omega:g} | {energies.mean() - two_body_energy(omega):+.2e} | {spread:.2e} "
              f"| {errors.mean():.2e} | {spread / errors.mean():.2f} |")


if __name__ == "__main__":
    main()
