"""End-to-end VMC throughput of nqsflow against NetKet on the same problem.

The 2-electron quantum dot (2D, omega = 1, exact E = 3), RBM (4 hidden) x
Pade-Jastrow, stochastic reconfiguration, 2000 samples per step.  Prints

- samples/s: optimisation samples per second of the whole loop (sampling, local
  energy, O = d ln psi / dp, the SR solve and the update), best of ``--repeats``;
- time to 2e-4: wall time from process start (a fresh interpreter, imports
  included) until the running energy (mean of the last 10 steps) is within 2e-4
  of 3.0, and the step at which that happens;
- the same two numbers for NetKet (``../shared/peers/netket_dot.py``, run in its
  own venv, ``.venv-netket`` by default) and the ratios.

Usage: python benchmarks/vmc_throughput.py [--netket-python .venv-netket/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEER = REPO.parent / "shared" / "peers" / "netket_dot.py"
EXACT, TOLERANCE, WINDOW = 3.0, 2e-4, 10

SPEC = {
    "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
    "ansatz": [
        {"kind": "rbm", "hidden": 4, "init_std": 0.1},
        {"kind": "pade_jastrow", "beta": 0.4},
    ],
    "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 100, "thin": 1},
    "optimizer": {"kind": "sr", "learning_rate": 0.2, "steps": 300, "samples": 2000,
                  "diag_shift": 0.001, "schedule": "cosine", "final_learning_rate": 0.01},
    "production": {"samples": 200000},
    "seed": 1,
}

# Runs in a fresh interpreter: time from its start (t0 from the parent) to 2e-4.
CHILD = """
import json, sys, time
t0, spec = float(sys.argv[1]), json.loads(sys.argv[2])
exact, tol, window = (float(a) for a in sys.argv[3:6])
import numpy as np
from nqsflow.vmc.driver import run
energies, hit = [], {}
def callback(step, stats):
    energies.append(stats.energy)
    if not hit and len(energies) >= window:
        if abs(np.mean(energies[-int(window):]) - exact) < tol:
            hit.update(step=step + 1, seconds=time.time() - t0)
start = time.perf_counter()
result = run(spec, callback=callback)
total = time.perf_counter() - start
print(json.dumps({"hit": hit, "energy": result.energy, "error": result.energy_error,
                  "run_s": total}))
"""


def nqsflow_throughput(steps: int, repeats: int) -> dict:
    """Samples/s of the optimisation loop, best of ``repeats`` (in this process)."""
    from nqsflow.vmc.driver import VMC
    from nqsflow.vmc.hamiltonians import build_hamiltonian
    from nqsflow.vmc.optimizers import build_optimizer
    from nqsflow.vmc.samplers import build_sampler
    from nqsflow.vmc.wavefunctions import build_ansatz

    best = 0.0
    for _ in range(repeats):
        h = build_hamiltonian(SPEC["system"])
        vmc = VMC(h, build_ansatz(SPEC["ansatz"], h), build_sampler(SPEC["sampler"], h.omega),
                  build_optimizer(SPEC["optimizer"]), seed=SPEC["seed"],
                  walkers=SPEC["sampler"]["walkers"], thin=SPEC["sampler"]["thin"])
        vmc.start(SPEC["sampler"]["burn_in"])
        start = time.perf_counter()
        vmc.optimize(steps, SPEC["optimizer"]["samples"])
        elapsed = time.perf_counter() - start
        best = max(best, steps * SPEC["optimizer"]["samples"] / elapsed)
    return {"samples_per_s": best, "s_per_step": SPEC["optimizer"]["samples"] / best}


def nqsflow_time_to_target() -> dict:
    """Fresh-process wall time until the running energy is within 2e-4 of 3.0."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    t0 = time.time()
    args = [repr(t0), json.dumps(SPEC), str(EXACT), str(TOLERANCE), str(WINDOW)]
    out = subprocess.run([sys.executable, "-c", CHILD, *args],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def netket(python: str, n_iter: int) -> dict | None:
    """The peer's JSON line, plus its wall time; None when its venv is missing."""
    if not Path(python).exists() or not PEER.exists():
        return None
    t0 = time.time()
    out = subprocess.run(
        [python, str(PEER), "--system", "qd", "--ansatz", "rbmj", "--opt", "sr",
         "--n_iter", str(n_iter), "--seed", "1"],
        capture_output=True, text=True, check=True, cwd="/tmp",
    )
    wall = time.time() - t0
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return {**json.loads(line), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--netket-python", default=str(REPO / ".venv-netket" / "bin" / "python"))
    parser.add_argument("--netket-iter", type=int, default=300)
    args = parser.parse_args()

    ours = nqsflow_throughput(args.steps, args.repeats)
    target = nqsflow_time_to_target()
    print(f"nqsflow: {ours['samples_per_s']:.3e} samples/s ({1e3 * ours['s_per_step']:.2f} ms "
          f"per 2000-sample step)")
    hit = target["hit"]
    if hit:
        print(f"nqsflow: within {TOLERANCE} of {EXACT} after {hit['step']} steps, "
              f"{hit['seconds']:.2f} s from process start")
    else:
        print(f"nqsflow: never within {TOLERANCE} of {EXACT}")
    print(f"nqsflow: final E = {target['energy']:.6f} +- {target['error']:.6f}")

    peer = netket(args.netket_python, args.netket_iter)
    if peer is None:
        print(f"netket: not measured ({args.netket_python} missing; see {PEER} for set-up)")
        return
    print("netket: " + json.dumps(peer))
    rate = peer.get("samples_per_s_opt")
    if rate:
        print(f"ratio samples/s nqsflow / netket = {ours['samples_per_s'] / rate:.1f}")


if __name__ == "__main__":
    main()
