"""Cost of the backflow determinant against the plain one, per sample, for closed-shell dots.

For each ansatz (Slater x Pade, + neural Jastrow, backflow Slater x Pade, + neural)
at N electrons in a 2D trap (omega = 1) this times what one VMC sample costs:

- a sweep: N single-particle moves of W walkers through the ansatz's caches
  (``propose`` and ``accept``), i.e. one new sample per walker;
- the local terms: gradient, Laplacian and parameter derivatives (E_L and O) of
  W samples (what an SR step and production evaluate once per sample).

The ansätze take turns within each repeat (a busy machine slows them alike) and
the best of ``--repeats`` is printed in microseconds per sample.  BLAS runs on
one thread, as inside a VMC run.

Usage: python benchmarks/backflow_cost.py [--particles 6 12] [--walkers 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nqsflow.vmc.hamiltonians import HarmonicTrap
from nqsflow.vmc.wavefunctions import build_ansatz

PADE = {"kind": "pade_jastrow", "beta": 0.5}
BACKFLOW = {"kind": "slater_backflow", "terms": 2, "eta_unlike": 0.3, "eta_like": 0.1}
ANSATZE = {
    "slater-jastrow": [{"kind": "slater"}, PADE],
    "neural": [{"kind": "slater"}, PADE, {"kind": "neural_jastrow"}],
    "backflow": [BACKFLOW, PADE],
    "backflow-neural": [BACKFLOW, PADE, {"kind": "neural_jastrow"}],
}


def time_sweep(wf, p, x, rng) -> float:
    cache = wf.init_cache(p, x)
    start = time.perf_counter()
    for k in range(x.shape[1]):
        xk = x[:, k] + 0.3 * rng.standard_normal((x.shape[0], x.shape[2]))
        _, _, data = wf.propose(p, x, cache, k, xk)
        accepted = rng.random(x.shape[0]) < 0.8
        cache = wf.accept(p, x, cache, k, xk, accepted, data)
        x[accepted, k] = xk[accepted]
    return time.perf_counter() - start


def time_local_terms(wf, p, x) -> float:
    start = time.perf_counter()
    wf.local_terms(p, x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, nargs="+", default=[6])
    parser.add_argument("--walkers", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| N | ansatz | parameters | sweep us/sample | local terms us/sample |")
    print("|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for n in args.particles:
            system = HarmonicTrap(1.0, n, 2, "coulomb", spins=(n // 2, n // 2))
            rng = np.random.default_rng(1)
            wfs = {name: build_ansatz(spec, system) for name, spec in ANSATZE.items()}
            params = {name: wf.initial_params(rng) for name, wf in wfs.items()}
            best = {name: [np.inf, np.inf] for name in wfs}
            for _ in range(args.repeats):
                for name, wf in wfs.items():
                    x = system.initial_positions(np.random.default_rng(2), args.walkers)
                    sweep = time_sweep(wf, params[name], x, np.random.default_rng(3))
                    terms = time_local_terms(wf, params[name], x)
                    best[name] = [min(best[name][0], sweep), min(best[name][1], terms)]
            for name, (sweep, terms) in best.items():
                scale = 1e6 / args.walkers
                print(f"| {n} | {name} | {wfs[name].n_params} | {sweep * scale:.1f} "
                      f"| {terms * scale:.1f} |", flush=True)


if __name__ == "__main__":
    main()
