"""Throughput of many-electron VMC: samples/s and effective samples/s against N.

For closed-shell 2D dots (N = 2, 6, 12, 20, omega = 1) and each ansatz, on one
core: the production sampler's samples per second (one sample = one sweep of
single-particle moves of every walker, plus the local energy), the effective
samples per second ESS/s = var(E_L) / (sigma_E^2 t) with sigma_E the error bar
of the production energy (from the walkers' autocorrelation time), the time of
one SR optimisation step, and how these scale with N (the exponent of t per
sample between successive N).

Usage: python benchmarks/dots_throughput.py [--particles 2 6 12 20] [--samples 200000]
       [--sampler langevin|metropolis]
"""

from __future__ import annotations

import argparse
import copy
import math
import time

from threadpoolctl import threadpool_limits

from nqsflow.vmc.driver import build_vmc

ANSATZE = {
    "slater-jastrow": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.5}],
    "neural": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.5},
               {"kind": "neural_jastrow"}],
    "backflow": [{"kind": "slater_backflow", "terms": 2}, {"kind": "pade_jastrow", "beta": 0.5}],
}


def spec_for(particles: int, ansatz: str, walkers: int, sampler: str = "langevin") -> dict:
    return {
        "system": {"particles": particles, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": copy.deepcopy(ANSATZE[ansatz]),
        "sampler": {"kind": sampler, "moves": "single", "walkers": walkers,
                    "step": 0.5 if sampler == "langevin" else 1.0, "burn_in": 100, "thin": 1},
        "optimizer": {"kind": "sr", "learning_rate": 1e-6, "diag_shift": 0.01},
        "production": {"samples": 1},
        "seed": 5,
    }


def measure(particles: int, ansatz: str, walkers: int, samples: int, sampler: str) -> dict:
    """Production and SR-step timings of one system on one core, after a warm-up."""
    vmc = build_vmc(spec_for(particles, ansatz, walkers, sampler))
    state = vmc.init(5, 100)
    state, _ = vmc.produce(state, walkers)  # warm-up
    start = time.perf_counter()
    state, est = vmc.produce(state, samples)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    steps = 3
    for _ in range(steps):
        state, _ = vmc.step(state, 4 * walkers)
    step_seconds = (time.perf_counter() - start) / steps
    ess = est["variance"] / est["energy_error"] ** 2 if est["energy_error"] > 0 else math.nan
    return {
        "samples_per_s": est["samples"] / seconds,
        "ess_per_s": ess / seconds,
        "tau": est["samples"] / ess if ess else math.nan,
        "energy": est["energy"],
        "error": est["energy_error"],
        "step_s": step_seconds,
        "acceptance": est["acceptance"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, nargs="+", default=[2, 6, 12, 20])
    parser.add_argument("--ansatz", nargs="+", default=list(ANSATZE), choices=ANSATZE)
    parser.add_argument("--walkers", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200000)
    parser.add_argument("--sampler", default="langevin", choices=["langevin", "metropolis"])
    args = parser.parse_args()
    print("| ansatz | N | samples/s | ESS/s | samples per ESS | SR step (s, 4 rounds) "
          "| acceptance | E | cost exponent |")
    print("|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for ansatz in args.ansatz:
            previous = None
            for n in args.particles:
                m = measure(n, ansatz, args.walkers, args.samples, args.sampler)
                exponent = ""
                if previous is not None:
                    slower = math.log(previous[1] / m["samples_per_s"])
                    exponent = f"{slower / math.log(n / previous[0]):.2f}"
                previous = (n, m["samples_per_s"])
                print(f"| {ansatz} | {n} | {m['samples_per_s']:.3g} | {m['ess_per_s']:.3g} "
                      f"| {m['tau']:.2f} | {m['step_s']:.3f} | {m['acceptance']:.2f} "
                      f"| {m['energy']:.4f} ± {m['error']:.4f} | {exponent} |", flush=True)


if __name__ == "__main__":
    main()
