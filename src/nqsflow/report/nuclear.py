"""The report of a nuclear mass study: S2n scores, residual map, bound nuclei and drip line.

Scores per model and for the BMA: S2n rms on the train, test and target nuclei
before the GP correction (the raw model) and after it, and the coverage of the
68 % and 95 % central intervals on the held-out nuclei.  The two-neutron drip
line at each Z is the largest even N whose probability of being bound against
two-neutron emission, p(S2n > 0) under the model mixture, is at least 1/2; its
range is where that probability passes 0.84 and 0.16.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow import plots
from nqsflow.artifacts import ATTRS, read_artifact
from nqsflow.bma.scores import score, score_mixture
from nqsflow.readers import read_fit, read_reference, read_theory
from nqsflow.report.dots import _fraction, _table

FILES = ("summary.md", "residuals.png", "bound.png", "weights.png")
HELD_OUT = ("test", "target")
DRIP_LEVELS = (0.84, 0.5, 0.16)


def drip_line(Z, N, p, z_values, levels=DRIP_LEVELS) -> dict[int, dict[str, Any]]:
    """For each Z of ``z_values``: the largest even N with ``p >= level`` for every level,
    and whether the chart ends there (``open``: the last even N of the chart still has
    ``p >= 1/2``).  ``Z``, ``N``, ``p`` are ``(n,)`` over the chart."""
    out = {}
    # the elements of the chart only: a range of 1e12 proton numbers is no loop of 1e12
    for z in (z for z in np.unique(Z).tolist() if z in z_values):
        row = (Z == z) & (N % 2 == 0) & np.isfinite(p)
        if not np.any(row):
            continue
        n, q = N[row], p[row]
        order = np.argsort(n)
        n, q = n[order], q[order]
        lines = {}
        for level in levels:
            bound = n[q >= level]
            lines[level] = int(bound.max()) if bound.size else None
        out[int(z)] = {"levels": lines, "open": bool(q[-1] >= 0.5), "last": int(n[-1])}
    return out


def _rms(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.sqrt(np.mean(values**2))) if values.size else float("nan")


def score_rows(reference, theories, fits, bma) -> list[list[str]]:
    """Rows of the scores table: model, rms (raw, corrected) per role, coverage on held out."""
    role, obs = reference.points.role, reference.observed
    held = np.isin(role, HELD_OUT)
    rows = []
    for name, fit in fits.items():
        raw = theories[fit.theory].mean
        s = score(obs[held], fit.mean[held], fit.variance[held])
        rms = [
            _rms((obs - m)[role == r]) for r in ("train", "test", "target") for m in (raw, fit.mean)
        ]
        rows.append([name, *(f"{v:.3f}" for v in rms), _fraction(s.coverage68, held.sum()),
                     _fraction(s.coverage95, held.sum())])  # fmt: skip
    models, pred = bma["models"], bma["prediction"]
    mix = score_mixture(obs[held], models["mean"][:, held], models["variance"][:, held],
                        models["weight"])  # fmt: skip
    rms = [_rms((obs - pred["mean"])[role == r]) for r in ("train", "test", "target")]
    rows.append(
        [
            "**BMA**",
            "",
            f"{rms[0]:.3f}",
            "",
            f"{rms[1]:.3f}",
            "",
            f"{rms[2]:.3f}",
            _fraction(mix.coverage68, held.sum()),
            _fraction(mix.coverage95, held.sum()),
        ]
    )
    return rows


def write_report(config, reference_path, bma_path, fit_paths, theory_paths, staging: Path):
    """Read the artifacts and write :data:`FILES` into the folder ``staging``."""
    reference = read_reference(reference_path)
    bma = read_artifact(bma_path, schema="nqsflow.bma")
    theories = {t.name: t for t in map(read_theory, theory_paths)}
    fits = {f.name: f for f in map(read_fit, fit_paths)}
    Z = reference.points.x[:, 0].astype(int)
    N = reference.points.x[:, 1].astype(int)
    role, obs = reference.points.role, reference.observed
    p_bound = bma["prediction"]["p_positive"]
    drip_z = config.get("report", {}).get("drip_Z", {})
    z_values = range(int(drip_z.get("min", 8)), int(drip_z.get("max", 40)) + 1)
    drip = drip_line(Z, N, p_bound, z_values)

    observed = np.isfinite(obs)
    residuals = {name: obs - t.mean for name, t in theories.items()}
    residuals["BMA (corrected)"] = obs - bma["prediction"]["mean"]
    plots.chart_residuals(Z[observed], N[observed],
                          {k: v[observed] for k, v in residuals.items()},
                          role[observed], staging / "residuals.png")  # fmt: skip
    plots.chart_probability(Z, N, p_bound, observed, drip, staging / "bound.png")
    plots.model_weights(list(bma["models"]["name"]), bma["models"]["weight"],
                        staging / "weights.png")  # fmt: skip
    text = summary_markdown(config, reference, theories, fits, bma, drip)
    (staging / "summary.md").write_text(text)


def _drip_rows(drip: Mapping[int, Mapping[str, Any]], Z, N, theories) -> list[list[str]]:
    rows = []
    for z, d in drip.items():
        lv = d["levels"]

        def cell(level, d=d, lv=lv):
            value = lv[level]
            if value is None:
                return "—"
            return f"≥{value}" if d["open"] and value == d["last"] else str(value)

        raw = []
        for t in theories.values():
            row = (Z == z) & (N % 2 == 0) & (t.mean > 0)
            raw.append(int(N[row].max()) if np.any(row) else None)
        raw = [r for r in raw if r is not None]
        span = f"{min(raw)}–{max(raw)}" if raw else "—"
        rows.append([str(z), cell(0.5), f"{cell(0.84)}–{cell(0.16)}", span])
    return rows


def summary_markdown(config, reference, theories, fits, bma, drip) -> str:
    """The text of ``summary.md``."""
    role = reference.points.role
    counts = {r: int(np.sum(role == r)) for r in ("train", "test", "target", "predict")}
    data = config["data"]
    models = bma["models"]
    weighting = models[ATTRS].get("weights", "predictive")
    alt = {k: v for k, v in bma.get("weightings", {}).items() if k != ATTRS}
    weight_rows = [[n, *(f"{alt[w][k]:.3f}" for w in alt)] for k, n in enumerate(models["name"])]
    score_table = _table(
        ["model", "train raw", "train GP", "test raw", "test GP", "target raw", "target GP",
         "68 % (held out)", "95 % (held out)"],
        score_rows(reference, theories, fits, bma),
    )  # fmt: skip
    Z = reference.points.x[:, 0].astype(int)
    N = reference.points.x[:, 1].astype(int)
    fit_notes = []
    for name, fit in fits.items():
        h = fit.hyper
        if "length_scale" in h:
            fit_notes.append(
                f"`{name}`: amplitude {h['amplitude']:.2f} MeV, length scales (Z, N) "
                f"{', '.join(f'{v:.1f}' for v in np.atleast_1d(h['length_scale']))}, "
                f"white noise {np.sqrt(h['white_noise_var']):.2f} MeV, hyper-parameters "
                f"from {h.get('hyper_train_points', '?')} train nuclei"
            )
    ld = [t for t in theories.values() if t.kind == "liquid_drop"]
    ld_note = ""
    for t in ld:
        fit = t.attrs.get("fit")
        if isinstance(fit, str):
            import json

            fit = json.loads(fit)
        ld_note += (
            f"\n\nLiquid drop `{t.name}`: {fit['method']['kind']} on "
            f"{', '.join(f'`{f}`' for f in fit['method']['features'])}, fitted to the binding "
            f"energies of {fit['nuclei']} nuclei of {data.get('train', 'AME2003')} "
            f"(rms {fit['rms_binding']:.2f} MeV)."
        )
    return (
        "\n\n".join(
            [
                f"# nqsflow study `{config['study']}`",
                f"Two-neutron separation energies S2n (MeV) of {len(theories)} mass models "
                f"against {data.get('train', 'AME2003')} (train, {counts['train']} nuclei) and the "
                f"nuclei new in {data.get('test', 'AME2012')} (test {counts['test']}, target "
                f"{counts['target']}); predictions at {counts['predict']} more nuclei. Residual "
                f"models: {', '.join(f'`{m}`' for m in config['fit']['methods'])}; BMA weights: "
                f"{weighting}." + ld_note,
                "## S2n rms (MeV) and coverage\n\n"
                "raw: the model; GP: the model plus its fitted residual. Coverage: fraction of "
                "the held-out (test and target) nuclei inside the central 68 % and 95 % "
                "predictive intervals (BMA: the mixture's). The test nuclei set the weights; "
                "the target nuclei are scored only.\n\n" + score_table,
                "## Model weights\n\n" + _table(["model", *alt], weight_rows),
                "## Two-neutron drip line\n\n"
                "Largest even N with p(S2n > 0) >= 0.5 under the BMA mixture, and the range "
                "where p passes 0.84 and 0.16 (≥: the chart ends while still bound). Raw models: "
                "the spread of their last even N with S2n > 0.\n\n"
                + _table(
                    ["Z", "N drip (BMA)", "68 % range", "raw models"],
                    _drip_rows(drip, Z, N, theories),
                ),  # fmt: skip
                "## Residual models\n\n" + "\n".join(f"- {n}" for n in fit_notes),
                "## Provenance\n\n"
                f"- nqsflow {bma[ATTRS].get('nqsflow_version')}, git revision "
                f"`{bma[ATTRS].get('git_revision', 'unknown')}`; data: the `masstable` package's "
                "tables\n- figures: `residuals.png`, `bound.png`, `weights.png`",
            ]
        )
        + "\n"
    )
