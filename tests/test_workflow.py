"""The whole DAG through real Snakemake on a tiny study in a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nqsflow.artifacts import inputs_of, read_artifact, sha256

from .conftest import REPO, tool

pytestmark = pytest.mark.workflow

TINY = {
    "study": "tiny",
    "seed": 5,
    "system": {"name": "dot", "particles": 2, "dim": 2, "interaction": "coulomb"},
    "design": {"train": [0.3, 0.5, 0.8, 1.0], "test": [0.6], "target": [0.4, 0.9]},
    "data": {"noise": 0.0},
    "vmc": {
        "tasks": 1,
        "ansatze": {
            "gauss-pade": [{"kind": "gaussian"}, {"kind": "pade_jastrow", "beta": 0.4}],
            "rbm": [{"kind": "rbm", "hidden": 2}],
        },
        "sampler": {"kind": "langevin", "walkers": 200, "step": 0.2, "burn_in": 50, "thin": 2},
        "optimizer": {"kind": "adam", "learning_rate": 0.05, "steps": 40, "samples": 1000},
        "production": {"samples": 10000},
    },
    "fit": {"methods": {"gp": {"kind": "gp"}, "ridge": {"kind": "ridge", "degree": 2}}},
    "bma": {"weights": "predictive"},
}


def _snakemake(workdir: Path, *args: str, config: dict | None = None):
    config_path = workdir / "study.yaml"
    config_path.write_text(yaml.safe_dump(config or TINY))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(config_path), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _jobs(dry_run_text: str) -> list[dict[str, str]]:
    """The jobs of a dry run's listing: ``{"rule", "log", "benchmark", "resources"}``."""
    jobs = []
    for block in re.split(r"^(?:local)?rule ", dry_run_text, flags=re.M)[1:]:
        job = {"rule": block.split(":", 1)[0]}
        for key in ("log", "benchmark", "resources"):
            found = re.search(rf"^\s+{key}: (.+)$", block, re.M)
            if found:
                job[key] = found.group(1)
        jobs.append(job)
    return jobs


def test_dry_run_lists_every_stage(tmp_path):
    proc = _snakemake(tmp_path, "-n")
    assert proc.returncode == 0, proc.stderr
    for rule in ("generate", "vmc", "theory", "fit", "bma", "report"):
        assert f"rule {rule}:" in proc.stdout, rule

    # every job has its log; every job that works its benchmark, wall time and memory
    from nqsflow import workflow as wf

    for job in _jobs(proc.stdout):
        if job["rule"] == "all":
            continue
        assert job.get("log", "").startswith("logs/tiny/"), job
        if job["rule"] in ("stage_config", "runspec"):  # local bookkeeping
            continue
        assert job["benchmark"].startswith("results/tiny/benchmarks/"), job
        resources = dict(item.split("=", 1) for item in job["resources"].split(", "))
        assert int(resources["runtime"]) >= wf.MIN_RUNTIME, job
        assert int(resources["mem_mb"]) >= wf.BASE_MEM_MB, job
        if job["rule"] == "vmc":
            ranks = TINY["vmc"]["tasks"]
            assert int(resources["mem_mb_per_cpu"]) * ranks == int(resources["mem_mb"]), job


def test_invalid_config_is_refused_in_one_line_before_any_work(tmp_path):
    bad = {**TINY, "vmc": {**TINY["vmc"], "sampler": {"kind": "gibbs"}}}
    proc = _snakemake(tmp_path, config=bad)
    assert proc.returncode != 0
    message = [line for line in proc.stderr.splitlines() if "invalid config" in line]
    assert message == [
        "nqsflow: invalid config: config: key 'vmc.sampler.kind': 'gibbs' is not one of "
        "['metropolis', 'langevin']"
    ]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The TINY study run once through Snakemake: ``(folder, completed process)``."""
    workdir = tmp_path_factory.mktemp("tiny")
    start = time.perf_counter()
    proc = _snakemake(workdir)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a bound against a hang, not a benchmark: with other jobs holding a load of 6 on
    # 2 cores this study took 152 s before the theory stage existed and 190 s after
    assert elapsed < 300
    return workdir, proc


@pytest.mark.slow
def test_whole_study_runs_end_to_end(tiny_study):
    tmp_path, _ = tiny_study
    study = tmp_path / "results" / "tiny"
    reference = read_artifact(study / "data" / "reference.h5", schema="nqsflow.data/1")
    assert list(reference["points"]["role"]) == [
        "train", "target", "train", "test", "train", "target", "train"
    ]
    vmc_file = study / "vmc" / "dot" / "gauss-pade" / "omega1.h5"
    vmc = read_artifact(vmc_file, schema="nqsflow.vmc/1")
    assert abs(vmc["estimate"]["@attrs"]["energy"] - 3.0) < 0.01
    assert vmc["optimization"]["energy"].shape == (40,)

    fit = read_artifact(study / "fit" / "rbm" / "gp.h5", schema="nqsflow.fit/1")
    theory = read_artifact(study / "theory" / "rbm.h5", schema="nqsflow.theory/1")
    recorded = {i["path"]: i["sha256"] for i in inputs_of(fit)}
    gathered = {i["path"]: i["sha256"] for i in inputs_of(theory)}
    assert len(recorded) == 2 and len(gathered) == 1 + 7
    for path, digest in {**recorded, **gathered}.items():
        assert sha256(tmp_path / path if not Path(path).is_absolute() else path) == digest

    bma = read_artifact(study / "bma" / "summary.h5", schema="nqsflow.bma/1")
    weights = bma["models"]["weight"]
    assert weights.shape == (4,) and np.isclose(weights.sum(), 1.0)
    pred = bma["prediction"]
    np.testing.assert_allclose(pred["variance"], pred["within"] + pred["between"])
    exact = reference["exact"]["energy"]
    assert np.all(np.abs(pred["mean"] - exact) < 0.02)

    report = study / "report"
    from nqsflow.report import report_files

    assert "calibration.png" in report_files(TINY)
    for name in report_files(TINY):
        assert (report / name).stat().st_size > 0, name
    assert "| BMA |" in (report / "summary.md").read_text()

    again = _snakemake(tmp_path, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_every_job_has_its_log_and_benchmark_and_the_end_says_where_results_are(tiny_study):
    tmp_path, proc = tiny_study
    logs, benchmarks = tmp_path / "logs" / "tiny", tmp_path / "results" / "tiny" / "benchmarks"
    jobs = ["generate", "bma", "report", "vmc/rbm/omega0.3", "vmc/gauss-pade/omega1",
            "theory/rbm", "fit/gauss-pade/gp", "fit/rbm/ridge"]  # fmt: skip
    for job in jobs:
        assert (logs / f"{job}.log").is_file(), job
        header, row = (benchmarks / f"{job}.tsv").read_text().splitlines()
        measured = dict(zip(header.split("\t"), row.split("\t"), strict=True))
        assert float(measured["s"]) > 0 and float(measured["max_rss"]) > 0, (job, measured)
    # the end of the run says where the results are (onsuccess)
    assert "nqsflow: study 'tiny' done." in proc.stderr
    assert "report:     results/tiny/report/" in proc.stderr
    assert "snakemake --report report.html" in proc.stderr


@pytest.mark.slow
def test_snakemake_report_holds_the_figures_and_the_summary(tiny_study):
    """`snakemake --report report.html`: one self-contained page with every report file
    (embedded as base64 data), its category and its caption."""
    import base64

    from nqsflow.report import report_files
    from nqsflow.workflow import REPORT_CATEGORIES

    tmp_path, _ = tiny_study
    html_path = tmp_path / "report.html"
    proc = _snakemake(tmp_path, "--report", str(html_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = html_path.read_text()
    report = tmp_path / "results" / "tiny" / "report"
    for name in report_files(TINY):
        assert f"Adding {name}" in proc.stderr, name
        data = base64.b64encode((report / name).read_bytes()).decode()
        assert data in html, f"{name} is not embedded in the report"
    for category in REPORT_CATEGORIES["dots"].values():
        assert f'"{category}"' in html, category
    # a caption (reST, rendered) and the workflow description with the study's name
    assert "standardised error" in html and "nqsflow study" in html

    # the summary is an HTML page (shown in a frame, where Markdown is only a download)
    # holding the BMA's numbers: its prediction at every point, the weight of each model
    pages = re.findall(r'"data_uri": "data:text/html;[^"]*filename=summary\.html;base64,([^"]+)"',
                       html)  # fmt: skip
    assert len(pages) == 1, "summary.html is not an HTML result of the report"
    page = base64.b64decode(pages[0]).decode()
    bma = read_artifact(tmp_path / "results/tiny/bma/summary.h5", schema="nqsflow.bma")
    pred = bma["prediction"]
    for mean, var in zip(pred["mean"], pred["variance"], strict=True):
        assert f"<td>{mean:.5f} ± {np.sqrt(var):.5f}</td>" in page, (mean, var)
    for name, weight in zip(bma["models"]["name"], bma["models"]["weight"], strict=True):
        assert f"<tr><td>{name}</td><td>{weight:.4f}</td>" in page, (name, weight)


@pytest.mark.slow
def test_rerun_of_a_killed_vmc_job_resumes_from_its_checkpoint(tmp_path):
    import signal

    config = {**TINY, "vmc": {**TINY["vmc"],
                              "optimizer": {"kind": "sr", "learning_rate": 0.05,
                                            "steps": 3000, "samples": 1000}}}
    target = "results/tiny/vmc/dot/gauss-pade/omega1.h5"
    checkpoint = tmp_path / "results/tiny/vmc/dot/gauss-pade/omega1.checkpoint.h5"
    config_path = tmp_path / "study.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(config_path), "--cores", "1", target]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "the VMC job never wrote a checkpoint"
    # what SLURM does at the wall-time limit: SIGTERM to the job's processes
    pattern = f"nqsflow.vmc {target.replace('.h5', '.yaml')}"
    pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    assert pids
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    first.wait(timeout=60)
    assert first.returncode != 0
    assert checkpoint.exists() and not (tmp_path / target).exists()

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    log = (tmp_path / "logs/tiny/vmc/gauss-pade/omega1.log").read_text()
    assert f"resuming from {target.replace('.h5', '.checkpoint.h5')}" in log
    assert not checkpoint.exists()
    energies = read_artifact(tmp_path / target)["optimization"]["energy"]
    assert energies.shape == (3000,)
