"""A small nuclear mass study through real Snakemake, and the reruns a config change causes."""

from __future__ import annotations

import base64
import copy
import re
import time

import numpy as np
import pytest

from nqsflow.artifacts import read_artifact

from .test_workflow import _snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

SMALL = {
    "study": "small-masses",
    "seed": 8,
    "data": {"source": "masses", "train": "AME2003", "test": "AME2012",
             "Z": {"min": 8, "max": 20}},
    "theories": {
        "FRDM95": {"kind": "mass_table"},
        "HFB26": {"kind": "mass_table"},
        "ld": {"kind": "liquid_drop", "method": {"kind": "ols"}},
    },
    "fit": {
        "loo": False,
        "methods": {
            "gp": {"kind": "gp", "max_train": 120, "restarts": 0},
            "ridge": {"kind": "ridge", "features": ["1", "Z", "N"], "alpha": 1.0},
        },
    },
    "bma": {"weights": "stacking"},
    "report": {"drip_Z": {"min": 8, "max": 20}},
}  # fmt: skip


def planned(proc) -> dict[str, int]:
    """``{rule: jobs}`` from the job stats of a dry run."""
    text = proc.stdout + proc.stderr
    assert "Job stats" in text or "Nothing to be done" in text, text[-2000:]
    if "Job stats" not in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_small_mass_study_and_its_reruns(tmp_path):
    dry = _snakemake(tmp_path, "-n", config=SMALL)
    assert dry.returncode == 0, dry.stderr[-2000:]
    jobs = planned(dry)
    assert "vmc" not in jobs and "runspec" not in jobs  # no VMC in this DAG
    assert jobs["theory"] == 3 and jobs["fit"] == 6

    start = time.perf_counter()
    proc = _snakemake(tmp_path, config=SMALL)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert elapsed < 180
    study = tmp_path / "results" / "small-masses"
    bma = read_artifact(study / "bma" / "summary.h5", schema="nqsflow.bma/1")
    assert bma["models"]["weight"].sum() == pytest.approx(1.0)
    p = bma["prediction"]["p_positive"]
    assert np.all((p >= 0) & (p <= 1))
    summary = (study / "report" / "summary.md").read_text()
    assert "| **BMA** |" in summary and "## Two-neutron drip line" in summary
    for name in ("residuals.png", "bound.png", "weights.png"):
        assert (study / "report" / name).stat().st_size > 0
    assert (study / "benchmarks" / "fit" / "ld" / "gp.tsv").is_file()

    # Snakemake's report: one page holding the nuclear report's files by category
    html_path = tmp_path / "report.html"
    report = _snakemake(tmp_path, "--report", str(html_path), config=SMALL)
    assert report.returncode == 0, report.stderr[-2000:]
    html = html_path.read_text()
    for name in ("summary.md", "residuals.png", "bound.png", "weights.png"):
        data = base64.b64encode((study / "report" / name).read_bytes()).decode()
        assert data in html, f"{name} is not embedded in the report"
    for category in ("1. Summary", "2. Mass residuals", "3. Drip line", "4. Model averaging"):
        assert f'"{category}"' in html, category
    assert "drip line" in html

    # a BMA key reruns the BMA and the report only
    changed = copy.deepcopy(SMALL)
    changed["bma"]["weights"] = "predictive"
    jobs = planned(_snakemake(tmp_path, "-n", config=changed))
    assert set(jobs) - {"stage_config", "all"} == {"bma", "report"}, jobs
    # one fit method reruns its fits (one per theory), then the BMA and the report
    changed = copy.deepcopy(SMALL)
    changed["fit"]["methods"]["ridge"]["alpha"] = 2.0
    jobs = planned(_snakemake(tmp_path, "-n", config=changed))
    assert set(jobs) - {"stage_config", "all"} == {"fit", "bma", "report"}, jobs
    assert jobs["fit"] == 3
    # the liquid drop's method reruns that theory and what depends on it
    changed = copy.deepcopy(SMALL)
    changed["theories"]["ld"]["method"] = {"kind": "ridge", "alpha": 1.0}
    jobs = planned(_snakemake(tmp_path, "-n", config=changed))
    assert set(jobs) - {"stage_config", "all"} == {"theory", "fit", "bma", "report"}, jobs
    assert jobs["theory"] == 1 and jobs["fit"] == 2
    assert "Nothing to be done" in _snakemake(tmp_path, "-n", config=SMALL).stdout
