"""What users of Snakemake expect: logs, benchmarks and resources of every job, a clean
``--lint``, captioned report entries, and a run that says where its results or its
errors are."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from nqsflow import workflow as wf
from nqsflow.report import report_files

from .conftest import REPO
from .test_workflow import TINY, _snakemake
from .test_workflow_nuclear import SMALL

CONDA_ADVICE = "Specify a conda environment or container for each rule."


@pytest.mark.workflow
def test_lint_leaves_only_the_advice_to_declare_conda_environments(tmp_path):
    # the trap study's DAG holds every rule (the mass study's holds them less vmc)
    proc = _snakemake(tmp_path, "--lint")
    text = proc.stdout + proc.stderr
    linted = re.findall(r"^Lints for rule (\w+)", text, re.M)
    assert linted, text[-2000:]
    advice = re.findall(r"^\s+\* (.+):$", text, re.M)
    assert set(advice) == {CONDA_ADVICE}, text[-3000:]
    assert "Lints for snakefile" not in text


@pytest.mark.workflow
def test_a_failed_job_is_named_with_its_log(tmp_path):
    # a corrupt run spec under the final name: the VMC job fails at once
    target = "results/tiny/vmc/dot/rbm/omega1.h5"
    spec = tmp_path / target.replace(".h5", ".yaml")
    spec.parent.mkdir(parents=True)
    spec.write_text("system: {particles: -1}\n")
    proc = _snakemake(tmp_path, target)
    assert proc.returncode != 0
    assert "nqsflow: study 'tiny' stopped on an error." in proc.stderr
    assert "failed job's log: logs/tiny/vmc/rbm/omega1.log" in proc.stderr
    assert "omega1.yaml" in (tmp_path / "logs/tiny/vmc/rbm/omega1.log").read_text()
    assert not (tmp_path / target).exists()


# --- the helpers behind the rules ---------------------------------------------------------


def _with(config, **changes):
    out = copy.deepcopy(config)
    for path, value in changes.items():
        *keys, last = path.split("__")
        node = out
        for key in keys:
            node = node[key]
        node[last] = value
    return out


def test_vmc_limits_grow_with_the_samples_and_the_particles():
    def runtime(config):
        return wf.vmc_resources(config, "rbm", "omega1")["runtime"]

    big = _with(TINY, vmc__optimizer__steps=2000, vmc__optimizer__samples=20000,
                vmc__production__samples=10**7)  # fmt: skip
    assert runtime(TINY) == wf.MIN_RUNTIME  # a tiny run asks for the floor only
    assert runtime(big) > wf.MIN_RUNTIME
    more_samples = _with(big, vmc__production__samples=2 * 10**7)
    assert runtime(more_samples) > runtime(big)
    more_particles = _with(big, system__particles=6, system__interaction="coulomb")
    assert runtime(more_particles) > 5 * runtime(big)
    more_ranks = _with(big, vmc__tasks=4)
    assert runtime(more_ranks) < runtime(big)
    # a retry (the run resumed from its checkpoint after the wall-time limit) gets more
    first = wf.vmc_resources(big, "rbm", "omega1", attempt=1)
    second = wf.vmc_resources(big, "rbm", "omega1", attempt=2)
    assert second["runtime"] == 2 * first["runtime"]
    memory = wf.vmc_resources(more_ranks, "rbm", "omega1")
    assert memory["mem_mb"] == 4 * memory["mem_mb_per_cpu"] >= 4 * wf.BASE_MEM_MB


def test_vmc_limits_cover_the_measured_runs_of_the_dots_many_study():
    # wall times of this study's VMC jobs measured on this 2-core machine (Snakemake's
    # metadata of one run), seconds: the slowest point of each ansatz
    config = yaml.safe_load((REPO / "config/examples/dots-many.yaml").read_text())
    measured = {
        ("neural", "n12-omega0.5"): 126,
        ("slater-jastrow", "n12-omega0.5"): 33,
        ("slater-rbm-jastrow", "n12-omega0.28"): 33,
        ("neural", "n6-omega0.5"): 58,
    }
    for (ansatz, point), seconds in measured.items():
        limit = wf.vmc_resources(config, ansatz, point)["runtime"] * 60
        assert 2 * seconds < limit < 60 * 60, (ansatz, point, limit)


def test_fit_limits_grow_with_the_train_points_of_a_gp():
    small = wf.fit_resources(SMALL, "gp")
    many = _with(SMALL, data__Z={"min": 8, "max": 110},
                 fit__methods__gp={"kind": "gp", "max_train": 3000, "restarts": 4})  # fmt: skip
    assert wf.fit_resources(many, "gp")["runtime"] > small["runtime"]
    assert wf.fit_resources(many, "gp")["mem_mb"] > small["mem_mb"]
    assert wf.fit_resources(SMALL, "ridge")["mem_mb"] == wf.BASE_MEM_MB


def test_stage_limits_and_an_unknown_stage():
    for stage in ("generate", "theory", "bma", "report"):
        assert wf.stage_resources(TINY, stage)["runtime"] == wf.MIN_RUNTIME
    with pytest.raises(ValueError, match="no stage 'vmc'"):
        wf.stage_resources(TINY, "vmc")


@pytest.mark.parametrize("config", [TINY, SMALL], ids=["dots", "nuclear"])
def test_every_report_file_has_a_category_and_a_caption(config):
    items = wf.report_items(config)
    assert [path.rsplit("/", 1)[1] for path, _ in items] == list(report_files(config))
    for path, item in items:
        caption = REPO / "workflow" / "report" / item["caption"]
        assert caption.is_file() and caption.read_text().strip(), (path, caption)
        assert item["category"], path


def test_the_end_of_a_run_names_where_things_are(tmp_path):
    text = wf.success_message(TINY)
    assert "results/tiny/report/" in text and "logs/tiny/" in text
    assert "results/tiny/benchmarks/" in text
    log = tmp_path / "snakemake.log"
    log.write_text(
        "Error in rule fit:\n    log: logs/tiny/fit/rbm/gp.log (check log file(s) for error"
        " details)\n"
    )
    assert wf.failed_logs([str(log)]) == ["logs/tiny/fit/rbm/gp.log"]
    assert "failed job's log: logs/tiny/fit/rbm/gp.log" in wf.error_message(TINY, [str(log)])
    assert wf.failed_logs(None) == [] and wf.failed_logs(str(tmp_path / "none")) == []
