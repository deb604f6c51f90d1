"""End-to-end VMC throughput of nqsflow against NetKet on the same problem.

The 2-electron quantum dot (2D, omega = 1, exact E = 3), RBM (4 hidden) x
Pade-Jastrow, stochastic reconfiguration, 2000 samples per step.  Prints

- production (the figure that counts): after 300 SR steps, ``--productions``
  consecutive production runs of ``--production-samples`` each, warm, for
  nqsflow's fused kernels, its numpy path (interleaved with the kernels, in
  this process) and NetKet (its ``--final_repeats``): proposals/s, samples/s
  and the effective samples per second of the production energy,
  ESS/s = var(E_L) / (sigma_E^2 x wall time), with sigma_E the spread of the
  repeated runs (the true error), and the ratios;
- start-up: ``import nqsflow.vmc``, the first optimisation step and the first
  production in a fresh interpreter, with the kernel cache warm and empty
  (JIT compile), and NetKet's import and first (JIT) step;
- optimisation: samples/s of the whole SR loop, best of ``--repeats``; time to
  2e-4: wall time from launching a fresh interpreter until first one step's
  energy, and then the mean of the last 10 steps, is within 2e-4 of 3.0.

NetKet runs ``../shared/peers/netket_dot.py`` in its own venv (``--netket-python``;
skipped with a message when absent).  Run it on one core, e.g.
``OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/vmc_throughput.py``; the
children inherit the affinity, and NetKet gets XLA's single-thread flags.

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


STARTUP = """
import json, sys, time
t0 = time.perf_counter()
import nqsflow.vmc
t_import = time.perf_counter() - t0
spec = json.loads(sys.argv[1])
from nqsflow.vmc.driver import build_vmc
vmc = build_vmc(spec)
state = vmc.init(spec["seed"], spec["sampler"]["burn_in"])
clock = [time.perf_counter()]
for _ in range(2):
    state, _ = vmc.optimize(state, state.step + 1, spec["optimizer"]["samples"])
    clock.append(time.perf_counter())
state, _ = vmc.produce(state, 20000)
clock.append(time.perf_counter())
print(json.dumps({"import_s": t_import, "first_step_s": clock[1] - clock[0],
                  "second_step_s": clock[2] - clock[1], "first_production_s": clock[3] - clock[2],
                  "kernels": vmc.kernels() is not None}))
"""


def startup(env_extra: dict[str, str]) -> dict:
    """``import nqsflow.vmc``, the first two SR steps and a first production, in a fresh
    interpreter."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), **env_extra)
    out = subprocess.run([sys.executable, "-c", STARTUP, json.dumps(SPEC)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _vmc(kernels: bool):
    from nqsflow.vmc.driver import VMC
    from nqsflow.vmc.hamiltonians import build_hamiltonian
    from nqsflow.vmc.optimizers import build_optimizer
    from nqsflow.vmc.samplers import build_sampler
    from nqsflow.vmc.wavefunctions import build_ansatz

    h = build_hamiltonian(SPEC["system"])
    return VMC(h, build_ansatz(SPEC["ansatz"], h), build_sampler(SPEC["sampler"], h),
               build_optimizer(SPEC["optimizer"]), walkers=SPEC["sampler"]["walkers"],
               thin=SPEC["sampler"]["thin"], kernels=kernels)


def production(steps: int, productions: int, samples: int) -> dict:
    """Repeated warm productions after ``steps`` SR steps, kernels and numpy interleaved.

    Both paths continue copies of the same state (parameters, walkers, streams),
    so they run the same chains: their energies agree to round-off, and only the
    time differs.  Returns per path: proposals/s, samples/s, ESS/s from the
    spread of the energies, and the mean energy, error bar and acceptance.
    """
    import copy

    import numpy as np
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        fast, slow = _vmc(True), _vmc(False)
        state = fast.init(SPEC["seed"], SPEC["sampler"]["burn_in"])
        state, _ = fast.optimize(state, steps, SPEC["optimizer"]["samples"])
        states = {"kernels": state, "numpy": copy.deepcopy(state)}
        runs = {"kernels": fast, "numpy": slow}
        rows = {name: [] for name in runs}
        for k in range(productions + 1):  # the first of each is a warm-up
            for name, vmc in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                states[name], res = vmc.produce(states[name], samples)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if k:
                    rows[name].append((res["energy"], res["energy_error"], res["variance"],
                                       res["acceptance"], res["samples"], wall, cpu))
    out = {}
    for name, r in rows.items():
        e, err, var, acc, n, wall, cpu = (np.array(c) for c in zip(*r, strict=True))
        spread = e.std(ddof=1)
        proposals = n * SPEC["sampler"]["thin"]
        out[name] = {
            "energy": e.mean(), "spread": spread, "error": err.mean(), "variance": var.mean(),
            "acceptance": acc.mean(), "wall_s": wall.mean(), "cpu_s": cpu.mean(),
            "proposals_per_s": proposals.mean() / wall.mean(),
            "samples_per_s": n.mean() / wall.mean(),
            "ess_per_s": var.mean() / (spread**2 * wall.mean()),
            "ess_per_cpu_s": var.mean() / (spread**2 * cpu.mean()),
            "energies": e,
        }
    return out


def nqsflow_throughput(steps: int, repeats: int) -> dict:
    """Samples/s of the optimisation loop, best of ``repeats`` (in this process)."""
    from threadpoolctl import threadpool_limits

    best = 0.0
    with threadpool_limits(limits=1, user_api="blas"):  # as nqsflow.vmc.driver.run does
        for _ in range(repeats):
            vmc = _vmc(True)
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


def netket(python: str, n_iter: int, final_samples: int, repeats: int) -> dict | None:
    """The peer's JSON line and its time to 2e-4 (from its log); None without its venv."""
    if not Path(python).exists() or not PEER.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out_prefix = Path(tmp) / "netket"
        t_launch = time.perf_counter()
        done = subprocess.run(
            [python, str(PEER), "--out", str(out_prefix), "--system", "qd", "--ansatz", "rbmj",
             "--opt", "sr", "--n_iter", str(n_iter), "--seed", "1",
             "--final_samples", str(final_samples), "--final_repeats", str(repeats)],
            capture_output=True, text=True, check=True, cwd=tmp,
            env=dict(os.environ, OMP_NUM_THREADS="1",
                     XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"),
        )
        wall = time.perf_counter() - t_launch
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1]
        log = json.loads(Path(f"{out_prefix}.log").read_text())
    mean = log["Energy"]["Mean"]
    energies = mean["real"] if isinstance(mean, dict) else mean
    return {**json.loads(line), "wall_s": wall,
            **time_to_target(energies, log["wallclock"]["value"], t_launch)}


def _row(name, r):
    return (f"{name:17} {r['proposals_per_s']:12.3e} {r['samples_per_s']:12.3e} "
            f"{r['ess_per_s']:12.3e} {r['energy']:10.6f} {r['spread']:9.2e} {r['error']:9.2e} "
            f"{r['acceptance']:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="SR steps timed for samples/s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--opt-steps", type=int, default=300, help="SR steps before production")
    parser.add_argument("--productions", type=int, default=100,
                        help="repeats per code: the spread of 100 pins ESS/s to ~14%%")
    parser.add_argument("--production-samples", type=int, default=400_000)
    parser.add_argument("--netket-python", default=str(REPO / ".venv-netket" / "bin" / "python"))
    parser.add_argument("--netket-iter", type=int, default=300)
    parser.add_argument("--netket-final-samples", type=int, default=128_000)
    parser.add_argument("--skip-optimisation", action="store_true",
                        help="only production and start-up")
    args = parser.parse_args()

    starts = {}
    with tempfile.TemporaryDirectory() as cold:
        starts["kernels, cold cache"] = startup({"NQSFLOW_KERNEL_CACHE": cold})
    starts["kernels, warm cache"] = startup({})
    starts["numpy"] = startup({"NQSFLOW_KERNELS": "0"})
    prod = production(args.opt_steps, args.productions, args.production_samples)
    peer = netket(args.netket_python, args.netket_iter, args.netket_final_samples,
                  args.productions)

    print(f"production energy, {args.productions} warm runs each (ESS/s = var(E_L) / "
          "(spread^2 x wall time)):")
    print(f"{'':17} {'proposals/s':>12} {'samples/s':>12} {'ESS/s':>12} {'E':>10} "
          f"{'spread':>9} {'mean err':>9} {'acc':>6}")
    print(_row("nqsflow kernels", prod["kernels"]))
    print(_row("nqsflow numpy", prod["numpy"]))
    same = abs(prod["kernels"]["energies"] - prod["numpy"]["energies"]).max()
    print(f"  ({args.production_samples} samples per run; kernels and numpy ran the same chains: "
          f"largest energy difference {same:.1e}; CPU-time ESS/s of the kernels "
          f"{prod['kernels']['ess_per_cpu_s']:.3e})")
    if peer is not None and peer.get("E_final_spread"):
        t = peer["t_final_warm_s"]
        proposals = ((peer["final_samples"] + peer["n_discard"] * peer["n_chains"])
                     * peer["sweep_size"])
        nk = {"proposals_per_s": proposals / t, "samples_per_s": peer["final_samples"] / t,
              "ess_per_s": peer["E_final_warm_var"] / (peer["E_final_spread"] ** 2 * t),
              "energy": peer["E_final"], "spread": peer["E_final_spread"],
              "error": peer["E_final_warm_err"], "acceptance": peer["acceptance"]}
        print(_row("netket", nk))
        print(f"  ({peer['final_samples']} samples per run, {peer['n_chains']} chains)")
        print(f"ratio ESS/s nqsflow kernels / netket = "
              f"{prod['kernels']['ess_per_s'] / nk['ess_per_s']:.1f} "
              f"(numpy path / netket = {prod['numpy']['ess_per_s'] / nk['ess_per_s']:.1f})")
    print(f"ratio ESS/s kernels / numpy = "
          f"{prod['kernels']['ess_per_s'] / prod['numpy']['ess_per_s']:.1f}")
    print("start-up (fresh interpreter): import nqsflow.vmc, first and second SR step, "
          "first production (20000 samples):")
    for name, st in starts.items():
        print(f"  {name:20} {st['import_s']:6.2f} s {st['first_step_s']:7.2f} s "
              f"{st['second_step_s']:7.3f} s {st['first_production_s']:7.3f} s")
    if peer is not None:
        print(f"  {'netket':20} {peer['import_s']:6.2f} s {peer['first_step_s']:7.2f} s "
              f"{peer['s_per_step']:7.3f} s {peer['t_final_s']:7.3f} s "
              f"(first production: {peer['final_samples']} samples)")
    else:
        print(f"netket: not measured ({args.netket_python} missing; see {PEER} for set-up)")
    if args.skip_optimisation:
        return

    ours = nqsflow_throughput(args.steps, args.repeats)
    target = nqsflow_time_to_target()
    print(f"optimisation: {'':9} {'samples/s':>10} {'first within 2e-4':>20} "
          f"{'mean of 10 within 2e-4':>24}")
    rows = [("nqsflow", ours["samples_per_s"], target)]
    if peer is not None:
        rows.append(("netket", peer["samples_per_s_opt"], peer))
    for name, rate, t in rows:
        cells = [f"{t[k]['seconds']:6.2f} s ({t[k]['steps']:3d} steps)" if k in t else "never"
                 for k in ("first", f"mean{WINDOW}")]
        print(f"{'':14}{name:9} {rate:10.3e} {cells[0]:>20} {cells[1]:>24}")
    print(f"nqsflow final E = {target['energy']:.6f} +- {target['error']:.6f}")
    if peer is None:
        return
    print(f"ratio optimisation samples/s nqsflow / netket = "
          f"{ours['samples_per_s'] / peer['samples_per_s_opt']:.1f}")
    key = f"mean{WINDOW}"
    if key in target and key in peer:
        print(f"ratio time to 2e-4 (mean of 10) netket / nqsflow = "
              f"{peer[key]['seconds'] / target[key]['seconds']:.1f}")


if __name__ == "__main__":
    main()
