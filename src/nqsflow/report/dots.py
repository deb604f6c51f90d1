"""The report of a trap study with VMC theories: energies, optimisation, weights, calibration."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from nqsflow import plots
from nqsflow.artifacts import ATTRS, config_of, read_artifact
from nqsflow.data import two_body_energy

FILES = (
    "summary.md", "optimization.png", "energies.png", "weights.png", "calibration.png",
)  # fmt: skip


def collect_vmc(vmc_paths):
    """VMC results grouped by ansatz: ``{ansatz: {(particles, omega): tree}}``.

    The ansatz is the folder a VMC artifact sits in (``nqsflow.workflow.vmc_path``).
    """
    grouped: dict[str, dict[tuple[int, float], dict]] = defaultdict(dict)
    for path in vmc_paths:
        tree = read_artifact(path, schema="nqsflow.vmc")
        system = config_of(tree)["system"]
        grouped[Path(path).parent.name][int(system["particles"]), float(system["omega"])] = tree
    return grouped


def point_keys(config, points) -> list[tuple[int, float]]:
    """``(particles, omega)`` of each point of the reference's ``/points`` group."""
    omega = np.asarray(points["omega"], dtype=float)
    if "particles" in points:
        particles = np.asarray(points["particles"], dtype=int)
    else:
        particles = np.full(omega.size, int(config["system"]["particles"]))
    return list(zip(particles.tolist(), omega.tolist(), strict=True))


def reference_label(reference) -> str:
    """What the reference energies are: ``exact``, or the table's methods (``dmc``)."""
    exact = reference["exact"]
    if exact.get(ATTRS, {}).get("source") != "table":
        return "exact"
    methods = sorted(set(np.asarray(exact.get("method", [])).astype(str).tolist()))
    return " + ".join(m.upper() if m == "dmc" else m for m in methods) or "reference"


def exact_curve(config, omega: np.ndarray, n: int = 60):
    """Exact E(omega) on a dense grid spanning the study's points (two particles only)."""
    system = config["system"]
    if system["particles"] != 2:
        return None
    grid = np.linspace(omega.min(), omega.max(), n)
    radius = system.get("radius") if system["interaction"] == "hard_sphere" else None
    values = [
        two_body_energy(w, dim=system["dim"], interaction=system["interaction"], radius=radius)
        for w in grid
    ]
    return grid, np.asarray(values)


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_WEIGHTINGS = {
    "predictive": "predictive likelihood of the test points",
    "evidence": "evidence of each fit",
    "stacking": "stacking of predictive densities on the test points",
}


def _fraction(value: float, points: int) -> str:
    """A coverage as ``0.90 (9/10)``."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f} ({round(value * points)}/{points})"


def summary_markdown(config, reference, bma, vmc) -> str:
    """The text of ``summary.md``: points, VMC energies, weights, scores, provenance."""
    pts = reference["points"]
    keys, roles = point_keys(config, pts), pts["role"]
    several = "particles" in pts
    exact = reference["exact"]["energy"]
    label = reference_label(reference)
    pred = bma["prediction"]
    std = np.sqrt(pred["variance"])
    ansatze = sorted(vmc)
    rows = []
    for i, (n, w) in enumerate(keys):
        vmc_cells = []
        for a in ansatze:
            est = vmc[a][n, w]["estimate"][ATTRS]
            vmc_cells.append(f"{est['energy']:.5f} ± {est['energy_error']:.5f}")
        rows.append(
            [*([n] if several else []), f"{w:g}", roles[i], f"{exact[i]:.6f}", *vmc_cells,
             f"{pred['mean'][i]:.5f} ± {std[i]:.5f}",
             f"{(pred['mean'][i] - exact[i]) / std[i]:+.2f}"]
        )  # fmt: skip
    points_table = _table(
        [*(["N"] if several else []), "ω", "role", label, *[f"VMC {a}" for a in ansatze], "BMA",
         f"(BMA − {label})/σ"],
        rows,
    )  # fmt: skip
    models = bma["models"]
    weighting = models.get(ATTRS, {}).get("weights", "predictive")
    label = _WEIGHTINGS.get(weighting, weighting)
    if weighting != "evidence" and models.get(ATTRS, {}).get("loo", False):
        label += " and of the train points left out one at a time"
    loo = models.get("loo_log_likelihood", np.full(models["name"].size, np.nan))
    weights_table = _table(
        ["model", "weight", "log likelihood (test)", "LOO log likelihood (train)", "log evidence"],
        [
            [n, f"{w:.4f}", f"{ll:.2f}", f"{lo:.2f}" if np.isfinite(lo) else "n/a",
             f"{ev:.2f}" if np.isfinite(ev) else "n/a"]
            for n, w, ll, lo, ev in zip(
                models["name"], models["weight"], models["log_likelihood"], loo,
                models["log_evidence"], strict=True,
            )
        ],
    )  # fmt: skip
    scores = bma["scores"]
    n_target = int(np.sum(roles == "target"))
    cov68 = scores.get("coverage68", np.full(scores["name"].size, np.nan))
    scores_table = _table(
        ["model", "RMSE", "MLPD", "68 % coverage", "95 % coverage"],
        [
            [n, f"{r:.2e}", f"{m:.3f}", _fraction(c68, n_target), _fraction(c95, n_target)]
            for n, r, m, c68, c95 in zip(
                scores["name"], scores["rmse"], scores["mlpd"], cov68, scores["coverage95"],
                strict=True,
            )
        ],
    )
    attrs = bma[ATTRS]
    system = config["system"]
    particles = system["particles"]
    if isinstance(particles, list):
        particles = " and ".join(map(str, particles))
    return "\n\n".join(
        [
            f"# nqsflow study `{config['study']}`",
            f"{particles} particles in a {system['dim']}D harmonic trap, interaction "
            f"`{system['interaction']}`; ansätze {', '.join(f'`{a}`' for a in ansatze)}; "
            f"fits {', '.join(f'`{m}`' for m in config['fit']['methods'])}.",
            "## Energies at every point\n\n"
            "VMC: production energy with its error from the autocorrelation time. BMA: "
            "averaged corrected prediction ± its standard deviation (within + between "
            "models).\n\n" + points_table,
            f"## Model weights ({label})\n\n" + weights_table,
            f"## Scores on the {n_target} {scores[ATTRS].get('points', 'target')} points\n\n"
            "RMSE of the mean against the exact energy (hartree); MLPD: mean log "
            "predictive density of the exact energy; coverage: fraction of points "
            "whose exact energy lies in the central 68 % and 95 % predictive "
            "intervals (BMA: the mixture's quantiles).\n\n" + scores_table,
            "## Provenance\n\n"
            f"- nqsflow {attrs.get('nqsflow_version')}, git revision "
            f"`{attrs.get('git_revision', 'unknown')}`\n"
            f"- BMA artifact created {attrs.get('created')}, seed {config['seed']}\n"
            "- figures: `optimization.png`, `energies.png`, `weights.png`, `calibration.png`",
        ]
    ) + "\n"


def write_report(config, reference_path, bma_path, fit_paths, vmc_paths, staging: Path) -> None:
    """Read every artifact and write :data:`FILES` into the folder ``staging``."""
    reference = read_artifact(reference_path, schema="nqsflow.data")
    bma = read_artifact(bma_path, schema="nqsflow.bma")
    for path in fit_paths:  # checked so a corrupt fit is named here, not missed
        read_artifact(path, schema="nqsflow.fit")
    vmc = collect_vmc(vmc_paths)
    pts = reference["points"]
    keys = point_keys(config, pts)
    omega, exact = np.asarray(pts["omega"], dtype=float), reference["exact"]["energy"]
    label = reference_label(reference)
    exact_at = dict(zip(keys, exact.tolist(), strict=True))
    numbers = sorted({n for n, _ in keys})
    traces = {
        f"{a}, N = {n}" if len(numbers) > 1 else a: [
            (w, t["optimization"]["energy"], exact_at[m, w])
            for (m, w), t in sorted(runs.items()) if m == n
        ]
        for a, runs in sorted(vmc.items())
        for n in numbers
    }  # fmt: skip
    plots.optimization_traces(traces, staging / "optimization.png", reference=label)
    theory = {
        a: (
            np.array([runs[k]["estimate"][ATTRS]["energy"] for k in keys]),
            np.array([runs[k]["estimate"][ATTRS]["energy_error"] for k in keys]),
        )
        for a, runs in sorted(vmc.items())
    }
    pred = bma["prediction"]
    particles = np.array([n for n, _ in keys])
    groups = {f"N = {n}": particles == n for n in numbers} if len(numbers) > 1 else None
    plots.energies_with_band(
        omega, exact, pred["mean"], np.sqrt(pred["variance"]), theory, pts["role"],
        staging / "energies.png", exact_curve=exact_curve(config, omega), groups=groups,
        reference=label,
    )  # fmt: skip
    plots.model_weights(
        list(bma["models"]["name"]), bma["models"]["weight"], staging / "weights.png"
    )
    target = pts["role"] == "target"
    models = bma["models"]
    means = np.vstack([models["mean"], pred["mean"][None]])[:, target]
    variances = np.vstack([models["variance"], pred["variance"][None]])[:, target]
    scores = bma["scores"]
    plots.calibration(
        [*models["name"], "BMA"],
        (means - exact[target]) / np.sqrt(variances),
        {"68 %": scores.get("coverage68", np.full(scores["name"].size, np.nan)),
         "95 %": scores["coverage95"]},
        staging / "calibration.png",
    )  # fmt: skip
    (staging / "summary.md").write_text(summary_markdown(config, reference, bma, vmc))
