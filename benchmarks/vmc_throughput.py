"""End-to-end VMC throughput of nqsflow against NetKet on the same problem.

The 2-electron quantum dot (2D, omega = 1, exact E = 3), RBM (4 hidden) x
Pade-Jastrow, stochastic reconfiguration, 2000 samples per step.  Prints

- samples/s: optimisation samples per second of the whole loop (sampling, local
  energy, O = d ln psi / dp, the SR solve and the update), best of ``--repeats``;
- time to 2e-4: wall time from launching a fresh interpreter (imports, set-up
  and JIT included) until first one step's energy, and then the mean of the last
  10 steps, is within 2e-4 of 3.0, with the step at which that happens;
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
import tempfile
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

# Runs in a fresh interpreter; records each step's energy and clock (perf_counter is
# CLOCK_MONOTONIC on Linux, the same clock in every process).
CHILD = """
import json, sys, time
spec = json.loads(sys.argv[1])
from nqsflow.vmc.driver import run
energies, clock = [], []
def callback(step, stats):
    energies.append(stats.energy)
    clock.append(time.perf_counter())
result = run(spec, callback=callback)
print(json.dumps({"energies": energies, "clock": clock, "energy": result.energy,
                  "error": result.energy_error}))
"""


def time_to_target(energies, clock, t_launch: float) -> dict:
    """Steps and seconds from launch until (a) one step's energy and (b) the mean of the
    last 10 steps is within TOLERANCE of EXACT."""
    import numpy as np

    e = np.asarray(energies)
    clock = np.asarray(clock) - t_launch
    single = np.nonzero(np.abs(e - EXACT) < TOLERANCE)[0]
    rolling = np.convolve(e, np.ones(WINDOW) / WINDOW, "valid")
    rolled = np.nonzero(np.abs(rolling - EXACT) < TOLERANCE)[0] + WINDOW - 1
    out = {}
    for name, hits in (("first", single), (f"mean{WINDOW}", rolled)):
        if hits.size:
            out[name] = {"steps": int(hits[0] + 1), "seconds": float(clock[hits[0]])}
    return out


def nqsflow_throughput(steps: int, repeats: int) -> dict:
    """Samples/s of the optimisation loop, best of ``repeats`` (in this process)."""
    from threadpoolctl import threadpool_limits

    from nqsflow.vmc.driver import VMC
    from nqsflow.vmc.hamiltonians import build_hamiltonian
    from nqsflow.vmc.optimizers import build_optimizer
    from nqsflow.vmc.samplers import build_sampler
    from nqsflow.vmc.wavefunctions import build_ansatz

    best = 0.0
    with threadpool_limits(limits=1, user_api="blas"):  # as nqsflow.vmc.driver.run does
        for _ in range(repeats):
            h = build_hamiltonian(SPEC["system"])
            vmc = VMC(h, build_ansatz(SPEC["ansatz"], h),
                      build_sampler(SPEC["sampler"], h), build_optimizer(SPEC["optimizer"]),
                      walkers=SPEC["sampler"]["walkers"], thin=SPEC["sampler"]["thin"])
            state = vmc.init(SPEC["seed"], SPEC["sampler"]["burn_in"])
            start = time.perf_counter()
            vmc.optimize(state, steps, SPEC["optimizer"]["samples"])
            elapsed = time.perf_counter() - start
            best = max(best, steps * SPEC["optimizer"]["samples"] / elapsed)
    return {"samples_per_s": best, "s_per_step": SPEC["optimizer"]["samples"] / best}


def nqsflow_time_to_target() -> dict:
    """A fresh process: time from launch to 2e-4, and the final energy."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    t_launch = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(SPEC)],
                         capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {**time_to_target(result["energies"], result["clock"], t_launch),
            "energy": result["energy"], "error": result["error"]}


def netket(python: str, n_iter: int) -> dict | None:
    """The peer's JSON line and its time to 2e-4 (from its log); None without its venv."""
    if not Path(python).exists() or not PEER.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out_prefix = Path(tmp) / "netket"
        t_launch = time.perf_counter()
        done = subprocess.run(
            [python, str(PEER), "--out", str(out_prefix), "--system", "qd", "--ansatz", "rbmj",
             "--opt", "sr", "--n_iter", str(n_iter), "--seed", "1"],
            capture_output=True, text=True, check=True, cwd=tmp,
        )
        wall = time.perf_counter() - t_launch
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1]
        log = json.loads(Path(f"{out_prefix}.log").read_text())
    mean = log["Energy"]["Mean"]
    energies = mean["real"] if isinstance(mean, dict) else mean
    return {**json.loads(line), "wall_s": wall,
            **time_to_target(energies, log["wallclock"]["value"], t_launch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--netket-python", default=str(REPO / ".venv-netket" / "bin" / "python"))
    parser.add_argument("--netket-iter", type=int, default=300)
    args = parser.parse_args()

    ours = nqsflow_throughput(args.steps, args.repeats)
    target = nqsflow_time_to_target()
    peer = netket(args.netket_python, args.netket_iter)
    print(f"{'':9} {'samples/s':>10} {'first within 2e-4':>20} {'mean of 10 within 2e-4':>24}")
    rows = [("nqsflow", ours["samples_per_s"], target)]
    if peer is not None:
        rows.append(("netket", peer["samples_per_s_opt"], peer))
    for name, rate, t in rows:
        cells = [f"{t[k]['seconds']:6.2f} s ({t[k]['steps']:3d} steps)" if k in t else "never"
                 for k in ("first", f"mean{WINDOW}")]
        print(f"{name:9} {rate:10.3e} {cells[0]:>20} {cells[1]:>24}")
    print(f"nqsflow final E = {target['energy']:.6f} +- {target['error']:.6f}")
    if peer is None:
        print(f"netket: not measured ({args.netket_python} missing; see {PEER} for set-up)")
        return
    print(f"netket final E = {peer['E_final']:.6f} +- {peer['E_final_err']:.6f}; "
          f"import {peer['import_s']:.2f} s, first (JIT) step {peer['first_step_s']:.2f} s")
    ratio = ours["samples_per_s"] / peer["samples_per_s_opt"]
    print(f"ratio samples/s nqsflow / netket = {ratio:.1f}")
    key = f"mean{WINDOW}"
    if key in target and key in peer:
        print(f"ratio time to 2e-4 (mean of 10) netket / nqsflow = "
              f"{peer[key]['seconds'] / target[key]['seconds']:.1f}")


if __name__ == "__main__":
    main()
