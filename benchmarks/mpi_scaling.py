"""Weak and strong MPI scaling of one VMC optimisation step and of production sampling.

The 2-electron dot, RBM (4 hidden) x Pade-Jastrow, stochastic reconfiguration.

- weak scaling: ``--walkers-per-rank`` walkers on every rank (default 2000), so the
  work grows with the rank count; efficiency = t(1) / t(K).
- strong scaling: ``--total-walkers`` (default 16000) split over the ranks;
  efficiency = t(1) / (K t(K)).

Each configuration runs under ``mpiexec -n K`` (the venv's, or ``--launcher``), and
rank 0 reports the median wall time of an optimisation step (sampling, local
energies, the SR reduction and solve, the update) and of a production round.

Usage: python benchmarks/mpi_scaling.py --ranks 1 2 4 8 16
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

SPEC = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [
        {"kind": "rbm", "hidden": 4, "init_std": 0.1},
        {"kind": "pade_jastrow", "beta": 0.4},
    ],
    "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 20, "thin": 1},
    "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01},
    "production": {"samples": 1},
    "seed": 3,
}


def worker(walkers: int, steps: int) -> None:
    """Under MPI: time ``steps`` optimisation steps and production rounds on ``walkers``."""
    import numpy as np

    from nqsflow.vmc.driver import build_vmc
    from nqsflow.vmc.parallel import world

    comm = world()
    spec = json.loads(json.dumps(SPEC))
    spec["sampler"]["walkers"] = walkers
    vmc = build_vmc(spec, comm)
    state = vmc.init(spec["seed"], spec["sampler"]["burn_in"])
    samples = walkers * comm.size  # one round of every rank's walkers per step
    state, _ = vmc.step(state, samples)  # warm-up
    step_times, prod_times = [], []
    for _ in range(steps):
        comm.sum(np.zeros(1))  # line the ranks up before timing
        start = time.perf_counter()
        state, _ = vmc.step(state, samples)
        step_times.append(time.perf_counter() - start)
    for _ in range(steps):
        comm.sum(np.zeros(1))
        start = time.perf_counter()
        state, _ = vmc.produce(state, samples)
        prod_times.append(time.perf_counter() - start)
    if comm.rank == 0:
        print(json.dumps({
            "ranks": comm.size,
            "walkers_per_rank": walkers,
            "step_s": float(np.median(step_times)),
            "production_s": float(np.median(prod_times)),
        }))


def launch(launcher: str, ranks: int, walkers: int, steps: int) -> dict:
    """Run :func:`worker` on ``ranks`` ranks; its JSON line."""
    cmd = [sys.executable, __file__, "--worker", "--walkers", str(walkers), "--steps", str(steps)]
    if ranks > 1 or launcher:
        cmd = [*launcher.split(), "-n", str(ranks), *cmd]
    env_bin = str(Path(sys.executable).parent)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"PATH": f"{env_bin}:/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                              "OPENBLAS_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--walkers-per-rank", type=int, default=2000)
    parser.add_argument("--total-walkers", type=int, default=16000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--launcher", default="")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--walkers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.walkers, args.steps)
        return
    launcher = args.launcher or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if launcher is None:
        sys.exit("mpi_scaling: no mpiexec next to this Python; pass --launcher")

    rows = []
    for mode, walkers_of in (
        ("weak", lambda k: args.walkers_per_rank),
        ("strong", lambda k: args.total_walkers // k),
    ):
        base = None
        for k in args.ranks:
            r = launch(launcher, k, walkers_of(k), args.steps)
            base = base or r
            ideal = 1.0 if mode == "weak" else k
            rows.append({
                "mode": mode, **r,
                "step_efficiency": base["step_s"] / (ideal * r["step_s"]),
                "production_efficiency": base["production_s"] / (ideal * r["production_s"]),
            })
    print(f"{'mode':6} {'ranks':>5} {'walkers/rank':>12} {'step ms':>9} {'eff':>6} "
          f"{'prod ms':>9} {'eff':>6}")
    for r in rows:
        print(f"{r['mode']:6} {r['ranks']:5d} {r['walkers_per_rank']:12d} "
              f"{1e3 * r['step_s']:9.2f} {r['step_efficiency']:6.2f} "
              f"{1e3 * r['production_s']:9.2f} {r['production_efficiency']:6.2f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
