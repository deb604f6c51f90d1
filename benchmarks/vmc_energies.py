"""Table of VMC energies with blocking error bars against exact values.

Two electrons in a 2D dot (Coulomb) at omega = 1 and 0.5 with several ansaetze,
and ten hard-sphere bosons in an elliptic trap (``config/examples``).  The
exact dot energies come from the two-body solver (3.0 at omega = 1 is Taut's
analytic value).  Usage: python benchmarks/vmc_energies.py [--skip-bosons]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from nqsflow.data import two_body_energy
from nqsflow.vmc.driver import run

REPO = Path(__file__).resolve().parents[1]
SR = {"kind": "sr", "learning_rate": 0.2, "steps": 600, "samples": 2000, "diag_shift": 0.001,
      "schedule": "cosine", "final_learning_rate": 0.01}
ANSATZE = {
    "gauss x pade": [{"kind": "gaussian"}, {"kind": "pade_jastrow", "beta": 0.4}],
    "rbm(4)": [{"kind": "rbm", "hidden": 4, "init_std": 0.1}],
    "rbm(4) x pade": [{"kind": "rbm", "hidden": 4, "init_std": 0.1},
                      {"kind": "pade_jastrow", "beta": 0.4}],
}


def dot(omega: float, ansatz) -> dict:
    return {
        "system": {"particles": 2, "dim": 2, "omega": omega, "interaction": "coulomb"},
        "ansatz": ansatz,
        "sampler": {"kind": "langevin", "walkers": 2000, "step": 0.3, "burn_in": 100, "thin": 1},
        "optimizer": SR,
        "production": {"samples": 400000},
        "seed": 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-bosons", action="store_true")
    args = parser.parse_args()
    print("| system | ansatz | E (VMC) | exact | E - exact | variance | seconds |")
    print("|---|---|---|---|---|---|---|")
    for omega in (1.0, 0.5):
        exact = two_body_energy(omega)
        for name, ansatz in ANSATZE.items():
            start = time.perf_counter()
            r = run(dot(omega, ansatz))
            print(f"| 2e dot, omega={omega:g} | {name} | {r.energy:.6f} ± {r.energy_error:.6f} "
                  f"| {exact:.6f} | {r.energy - exact:+.6f} | {r.variance:.2e} "
                  f"| {time.perf_counter() - start:.1f} |")
    if not args.skip_bosons:
        spec = yaml.safe_load((REPO / "config/examples/bosons-elliptic.yaml").read_text())
        start = time.perf_counter()
        r = run(spec)
        n = spec["system"]["particles"]
        print(f"| {n} hard-sphere bosons, elliptic | gauss(alpha, beta) x hard-sphere jastrow "
              f"| E/N = {r.energy / n:.6f} ± {r.energy_error / n:.6f} | | | "
              f"{r.variance:.2e} | {time.perf_counter() - start:.1f} |")


if __name__ == "__main__":
    main()
