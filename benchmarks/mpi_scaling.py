"""MPI scaling of the VMC optimisation step and of production, against the machine's ceiling.

The 2-electron dot, RBM (4 hidden) x Pade-Jastrow, stochastic reconfiguration.

- weak: ``--walkers-per-rank`` walkers on every rank (default 2000 and 8000);
  efficiency = t(1) / t(K).
- ceiling: K independent single-rank processes started at once, each timing the
  same work as one rank of the weak run (no MPI, nothing shared but the machine);
  efficiency = the mean of t(1) / t_i over the K processes, i.e. their aggregate
  throughput against K times one process.  ``of ceiling`` is the weak
  efficiency divided by it: how much of what the machine allows nqsflow keeps.
- strong: ``--total-walkers`` (default 64000) split over the ranks;
  efficiency = t(1) / (K t(K)).

Each configuration runs under ``mpiexec -n K`` (``--launcher``, else the one next to
this Python), lines its ranks up, then times ``steps`` consecutive optimisation
steps (sampling, local energies, the SR reduction and solve, the update) and as
many production rounds; the time per step is that of the slowest rank.  The
number of steps follows ``--work`` (walker moves per rank) so that every
configuration runs about as long.  BLAS (and numba) run on one thread per rank.

``--profile`` instead splits the step into its phases on every rank (sampling,
E_L and O, the wait for the slowest rank, the reduction itself, the SR solve,
the walker refresh, the rest: O sums and Python) and counts page faults.  On
the fused kernel path one call refreshes the walkers, moves them and takes E_L
and O: all of it counts as sampling.

Usage: python benchmarks/mpi_scaling.py --ranks 1 2 4 8 16 [--json out.json]
       python benchmarks/mpi_scaling.py --profile --ranks 16 --walkers-per-rank 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
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
PHASES = ("sampling", "E_L and O", "wait", "reduction", "SR solve", "refresh", "rest")
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


# ---------------------------------------------------------------- worker side


class _FileBarrier:
    """Lines up independent processes (no MPI between them): each touches a file and
    waits for all ``count`` files of a round."""

    def __init__(self, folder: str, index: int, count: int):
        self.folder, self.index, self.count, self.round = Path(folder), index, count, 0

    def wait(self) -> None:
        self.round += 1
        (self.folder / f"{self.round}.{self.index}").touch()
        while len(list(self.folder.glob(f"{self.round}.*"))) < self.count:
            time.sleep(0.0005)


class _Phases:
    """Wraps the methods a step calls, on their instances, and adds up their times."""

    def __init__(self, vmc):
        self.total = dict.fromkeys(PHASES, 0.0)
        self._wrap(vmc, "sample", "sampling")
        self._wrap(vmc.optimizer, "update", "SR solve")
        fused = vmc.kernels()
        if fused is not None:  # one kernel call refreshes, moves and takes E_L and O
            self._wrap(fused, "sample_local_terms", "sampling")
        else:
            self._wrap(vmc, "local_energy_and_derivatives", "E_L and O")
            self._wrap(vmc.sampler, "refresh", "refresh")
        comm, reduce = vmc.comm, vmc.comm.sum
        barrier = getattr(getattr(comm, "comm", None), "Barrier", lambda: None)

        def timed_sum(values):
            # a barrier first, so that the reduction's own cost and the wait for the
            # slowest rank come apart
            start = time.perf_counter()
            barrier()
            middle = time.perf_counter()
            out = reduce(values)
            self.total["wait"] += middle - start
            self.total["reduction"] += time.perf_counter() - middle
            return out

        comm.sum = timed_sum

    def _wrap(self, obj, name: str, phase: str) -> None:
        inner = getattr(obj, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.total[phase] += time.perf_counter() - start

        setattr(obj, name, timed)


def worker(args) -> None:
    """Time ``args.steps`` steps and production rounds; rank 0 (or each independent
    process) prints one JSON line."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from nqsflow.vmc.driver import build_vmc
    from nqsflow.vmc.parallel import SerialComm, retain_freed_memory, world

    if args.barrier:  # an independent process: no MPI at all
        retain_freed_memory()  # as world() does for every VMC process
        comm = SerialComm()
    else:
        comm = world()
    if args.bind:
        cpus = sorted(os.sched_getaffinity(0))
        me = comm.rank if args.index is None else args.index
        os.sched_setaffinity(0, {cpus[me % len(cpus)]})
    if args.barrier:
        line_up = _FileBarrier(args.barrier, args.index, args.count).wait
    else:
        def line_up():
            comm.sum(np.zeros(1))

    spec = json.loads(json.dumps(SPEC))
    spec["sampler"]["walkers"] = args.walkers
    samples = args.walkers * comm.size  # one round of every rank's walkers
    with threadpool_limits(limits=1, user_api="blas"):
        vmc = build_vmc(spec, comm)
        state = vmc.init(spec["seed"], spec["sampler"]["burn_in"])
        for _ in range(3):  # warm-up: caches, allocator, first-call costs
            state, _ = vmc.step(state, samples)
            state, _ = vmc.produce(state, samples)
        phases = _Phases(vmc) if args.profile else None
        line_up()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for _ in range(args.steps):
            state, _ = vmc.step(state, samples)
        step_s = (time.perf_counter() - start) / args.steps
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps
        if phases is not None:
            mine = {k: v / args.steps for k, v in phases.total.items()}
            mine["rest"] = step_s - sum(mine.values())
            mine["faults"] = faults
            rows = comm.gather(mine)
            if comm.rank == 0:
                print(json.dumps({"ranks": comm.size, "walkers_per_rank": args.walkers,
                                  "step_s": step_s, "per_rank": rows}))
            return
        line_up()
        start = time.perf_counter()
        for _ in range(args.steps):
            state, _ = vmc.produce(state, samples)
        production_s = (time.perf_counter() - start) / args.steps
    times = comm.gather((step_s, production_s, faults))
    if comm.rank == 0:
        print(json.dumps({
            "ranks": comm.size,
            "walkers_per_rank": args.walkers,
            "steps": args.steps,
            "step_s": max(t[0] for t in times),  # the job is as fast as its slowest rank
            "production_s": max(t[1] for t in times),
            "faults_per_step": float(np.mean([t[2] for t in times])),
        }))


# ---------------------------------------------------------------- driver side


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(dict.fromkeys(ONE_THREAD, "1"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _worker_cmd(args, walkers: int, steps: int) -> list[str]:
    cmd = [sys.executable, __file__, "--worker", "--walkers", str(walkers), "--steps", str(steps)]
    return cmd + ["--bind"] * args.bind + ["--profile"] * args.profile


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def steps_for(args, walkers: int) -> int:
    """Steps timed for ``walkers`` per rank: about ``args.work`` walker moves, 10 to 400."""
    return min(400, max(10, args.work // walkers))


def run_mpi(args, ranks: int, walkers: int) -> dict:
    """One configuration under ``mpiexec -n ranks``; rank 0's JSON line."""
    steps = steps_for(args, walkers)
    cmd = [*args.launcher.split(), "-n", str(ranks), *_worker_cmd(args, walkers, steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=args.timeout)
    if out.returncode:
        sys.exit(f"mpi_scaling: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return _last_json(out.stdout)


def run_independent(args, count: int, walkers: int) -> list[dict]:
    """``count`` single-rank processes at once, lined up by a file barrier; their lines."""
    steps = steps_for(args, walkers)
    with tempfile.TemporaryDirectory(prefix="mpi_scaling_") as folder:
        procs = [
            subprocess.Popen(
                [*_worker_cmd(args, walkers, steps), "--barrier", folder,
                 "--index", str(i), "--count", str(count)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
            )
            for i in range(count)
        ]
        outs = [p.communicate(timeout=args.timeout) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode:
            sys.exit(f"mpi_scaling: an independent process failed ({p.returncode}):\n{err[-3000:]}")
    return [_last_json(o) for o, _ in outs]


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def scaling(args) -> list[dict]:
    """Every configuration ``args.repeat`` times (rounds in turn, so slow spells of the
    machine spread over all of them); the median of each one's times."""
    configs = [("weak", w, k) for w in args.walkers_per_rank for k in args.ranks]
    configs += [("ceiling", w, k) for w in args.walkers_per_rank for k in args.ranks]
    configs += [("strong", t, k) for t in args.total_walkers for k in args.ranks]
    seen: dict[tuple, list[dict]] = {c: [] for c in configs}
    for _ in range(args.repeat):
        for mode, size, k in configs:
            walkers = size // k if mode == "strong" else size
            if mode == "ceiling":
                procs = run_independent(args, k, walkers)
                r = {"ranks": k, "walkers_per_rank": walkers,
                     "step_s": [p["step_s"] for p in procs],
                     "production_s": [p["production_s"] for p in procs],
                     "faults_per_step": _median([p["faults_per_step"] for p in procs])}
            else:
                r = run_mpi(args, k, walkers)
            seen[(mode, size, k)].append(r)
            print(f"{mode} size {size} ranks {k}: {json.dumps(r)}", file=sys.stderr, flush=True)
    rows = []
    for (mode, size, k), runs in seen.items():
        row = {"mode": mode, "size": size, **runs[0]}
        for key in ("step_s", "production_s"):
            if mode == "ceiling":  # per process: the median over repeats
                row[key] = [_median([r[key][i] for r in runs]) for i in range(k)]
            else:
                row[key] = _median([r[key] for r in runs])
        rows.append(row)
    return efficiencies(rows)


def efficiencies(rows: list[dict]) -> list[dict]:
    """Adds each row's efficiencies against the one-rank row of its mode and size; weak
    rows also get the ceiling's efficiency at their rank count and the fraction of it."""
    base = {(r["mode"], r["size"]): r for r in rows if r["ranks"] == 1}
    ceiling = {}
    for r in rows:
        b = base.get((r["mode"], r["size"]))
        for key, name in (("step_s", "step"), ("production_s", "production")):
            if b is None:
                r[f"{name}_efficiency"] = None
            elif r["mode"] == "ceiling":
                one = _median(b[key])
                r[f"{name}_efficiency"] = sum(one / t for t in r[key]) / len(r[key])
                ceiling[(r["size"], r["ranks"], name)] = r[f"{name}_efficiency"]
            else:
                ideal = r["ranks"] if r["mode"] == "strong" else 1
                r[f"{name}_efficiency"] = b[key] / (ideal * r[key])
    for r in rows:
        if r["mode"] != "weak":
            continue
        for name in ("step", "production"):
            c = ceiling.get((r["size"], r["ranks"], name))
            r[f"{name}_ceiling"] = c
            eff = r[f"{name}_efficiency"]
            r[f"{name}_of_ceiling"] = eff / c if c and eff is not None else None
    return rows


def _f(value, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.2f}"


def print_table(rows: list[dict]) -> None:
    """One table: times per step (ms; for the ceiling, the slowest process) and efficiencies."""
    head = (f"{'mode':7} {'ranks':>5} {'walk/rank':>9} {'step ms':>8} {'eff':>5} {'ceil':>5} "
            f"{'of ceil':>7} {'prod ms':>8} {'eff':>5} {'ceil':>5} {'of ceil':>7} {'faults':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        step = max(r["step_s"]) if r["mode"] == "ceiling" else r["step_s"]
        prod = max(r["production_s"]) if r["mode"] == "ceiling" else r["production_s"]
        print(f"{r['mode']:7} {r['ranks']:5d} {r['walkers_per_rank']:9d} {1e3 * step:8.2f} "
              f"{_f(r['step_efficiency'], 5)} {_f(r.get('step_ceiling'), 5)} "
              f"{_f(r.get('step_of_ceiling'), 7)} {1e3 * prod:8.2f} "
              f"{_f(r['production_efficiency'], 5)} {_f(r.get('production_ceiling'), 5)} "
              f"{_f(r.get('production_of_ceiling'), 7)} {r['faults_per_step']:7.1f}")
    print("eff: weak t1/tK, strong t1/(K tK); ceil: K independent processes' throughput / "
          "K x one; of ceil = eff / ceil; faults: minor page faults per step and rank")


def profile(args) -> list[dict]:
    """Per-phase times of the step on every rank, for each rank count and size."""
    out = []
    for walkers in args.walkers_per_rank:
        for k in args.ranks:
            r = run_mpi(args, k, walkers)
            out.append(r)
            per = r["per_rank"]
            print(f"\n{k} ranks x {walkers} walkers: step {1e3 * r['step_s']:.3f} ms "
                  f"(ms per step: median over ranks [min, max])")
            for phase in (*PHASES, "faults"):
                values = [p[phase] for p in per]
                scale = 1 if phase == "faults" else 1e3
                print(f"  {phase:10} {scale * _median(values):8.3f} "
                      f"[{scale * min(values):.3f}, {scale * max(values):.3f}]")
            waits = [p["wait"] for p in per]
            print(f"  least wait (the rank the others wait for): rank {waits.index(min(waits))}; "
                  f"most: rank {waits.index(max(waits))}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--walkers-per-rank", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--total-walkers", type=int, nargs="*", default=[64000])
    parser.add_argument("--work", type=int, default=400_000,
                        help="walker moves timed per rank and configuration (sets the steps)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    parser.add_argument("--bind", action="store_true", help="pin rank (process) i to CPU i")
    parser.add_argument("--profile", action="store_true", help="per-phase times instead")
    parser.add_argument("--launcher", default="", help="mpiexec command (default: next to python)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per configuration")
    parser.add_argument("--json", help="also write the rows and the machine here")
    for hidden in ("--walkers", "--steps", "--index", "--count"):
        parser.add_argument(hidden, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    args.launcher = args.launcher or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if not args.launcher:
        sys.exit("mpi_scaling: no mpiexec next to this Python; pass --launcher")
    start = time.perf_counter()
    if args.profile:
        rows = profile(args)
    else:
        args.ranks = sorted({1, *args.ranks})  # every efficiency is against one rank
        rows = scaling(args)
        print_table(rows)
    machine = {
        "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(), "python": platform.python_version(),
        "launcher": args.launcher, "bind": args.bind, "repeat": args.repeat,
        "wall_s": time.perf_counter() - start,
    }
    print(f"wall time {machine['wall_s']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
