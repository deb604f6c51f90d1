"""Closed-shell quantum dots (N = 6, 12, 20 electrons in 2D): VMC energies against the literature.

For each N, omega and ansatz this writes a run spec, runs it as a user would
(``mpiexec -n K python -m nqsflow.vmc SPEC --out OUT``), and prints one table
row: the production energy with its blocking error, the published
Slater-Jastrow VMC and fixed-node DMC energies (the package's literature
table), and the fraction of the VMC-to-DMC gap closed,
(E_VMC,pub - E) / (E_VMC,pub - E_DMC).

Usage: python benchmarks/dots_many_body.py --particles 6 12 --omegas 1 0.5 0.28 0.1 \\
           --ansatz slater-jastrow neural --ranks 2
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from nqsflow.artifacts import read_artifact
from nqsflow.data import load_table

ANSATZE = {
    "slater-jastrow": [{"kind": "slater"}, {"kind": "pade_jastrow", "beta": 0.5}],
    "slater-rbm-jastrow": [
        {"kind": "slater", "envelope": False},
        {"kind": "rbm", "hidden": 4, "init_std": 0.01},
        {"kind": "pade_jastrow", "beta": 0.5},
    ],
    "neural": [
        {"kind": "slater"},
        {"kind": "pade_jastrow", "beta": 0.5},
        {"kind": "neural_jastrow"},
    ],
    "backflow": [{"kind": "slater_backflow", "terms": 2}, {"kind": "pade_jastrow", "beta": 0.5}],
    "backflow-neural": [
        {"kind": "slater_backflow", "terms": 2},
        {"kind": "pade_jastrow", "beta": 0.5},
        {"kind": "neural_jastrow"},
    ],
}
BASE = {
    "sampler": {"kind": "langevin", "moves": "single", "walkers": 500, "step": 0.5,
                "burn_in": 200, "thin": 1},
    "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 300, "samples": 10000,
                  "diag_shift": 0.01, "clip_local_energy": 5.0, "schedule": "cosine",
                  "final_learning_rate": 0.02},
    "production": {"samples": 2000000},
    "seed": 11,
}


def literature() -> dict[tuple[int, float, str], tuple[float, float]]:
    """(N, omega, method) -> (energy, error) of the many-electron rows; for two DMC sources,
    the lower energy."""
    out: dict = {}
    for row in load_table():
        if row.particles > 2:
            key, value = (row.particles, row.omega, row.method), (row.energy, row.error)
            if key not in out or value[0] < out[key][0]:
                out[key] = value
    return out


def spec_for(particles: int, omega: float, ansatz: str, args) -> dict:
    spec = copy.deepcopy(BASE)
    spec["system"] = {"particles": particles, "dim": 2, "omega": omega, "interaction": "coulomb"}
    spec["ansatz"] = copy.deepcopy(ANSATZE[ansatz])
    spec["optimizer"].update(steps=args.steps, samples=args.samples)
    spec["production"]["samples"] = args.production
    return spec


def run_point(spec: dict, ranks: int, workdir: Path) -> tuple[dict, float]:
    path, out = workdir / "spec.yaml", workdir / "run.h5"
    path.write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "nqsflow.vmc", str(path), "--out", str(out),
               "--log-every", "50", "--checkpoint-every", "0"]
    if ranks > 1:
        mpiexec = Path(sys.executable).with_name("mpiexec")
        command = [str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec"),
                   "-n", str(ranks), *command]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    estimate = read_artifact(out)["estimate"]["@attrs"]
    out.unlink()
    return estimate, elapsed


def _fmt(value) -> str:
    return f"{value[0]:.5f}({value[1]:.5f})" if value else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, nargs="+", default=[6])
    parser.add_argument("--omegas", type=float, nargs="+", default=[1.0])
    parser.add_argument("--ansatz", nargs="+", default=["slater-jastrow"], choices=ANSATZE)
    parser.add_argument("--steps", type=int, default=BASE["optimizer"]["steps"])
    parser.add_argument("--samples", type=int, default=BASE["optimizer"]["samples"])
    parser.add_argument("--production", type=int, default=BASE["production"]["samples"])
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    refs = literature()
    print("| N | omega | ansatz | E (this work) | variance | VMC (pub.) | DMC (pub.) "
          "| gap closed | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.particles:
            for omega in args.omegas:
                for ansatz in args.ansatz:
                    est, seconds = run_point(spec_for(n, omega, ansatz, args), args.ranks,
                                             Path(tmp))
                    vmc = refs.get((n, omega, "slater-jastrow-vmc"))
                    dmc = refs.get((n, omega, "dmc"))
                    gap = ""
                    if vmc and dmc:
                        gap = f"{(vmc[0] - est['energy']) / (vmc[0] - dmc[0]):+.2f}"
                    print(f"| {n} | {omega:g} | {ansatz} | {est['energy']:.5f} ± "
                          f"{est['energy_error']:.5f} | {est['variance']:.4f} | {_fmt(vmc)} "
                          f"| {_fmt(dmc)} | {gap} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
