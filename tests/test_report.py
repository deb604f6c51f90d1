"""The report stage on a hard-sphere trap study: every stage's real code, synthetic VMC runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.bma import run_bma
from nqsflow.config import check_study, load_study, runspec_for, study_points
from nqsflow.data import write_reference
from nqsflow.fit import run_fit
from nqsflow.readers import read_reference
from nqsflow.report import report_files, write_report
from nqsflow.theory import run_theory

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def hard_sphere_study():
    config = load_study(CONFIG)
    config["system"] = {"name": "hs", "particles": 2, "dim": 3, "interaction": "hard_sphere",
                        "radius": 0.1}  # fmt: skip
    config["design"] = {"train": [0.5, 0.8, 1.1, 1.4, 1.7], "test": [1.0], "target": [0.65, 1.5]}
    config["vmc"]["ansatze"] = {"gauss": [{"kind": "gaussian"}]}
    config["fit"]["methods"] = {"ridge": {"kind": "ridge", "degree": 1}}
    config["fit"]["loo"] = False
    config["bma"] = {"weights": "predictive"}
    check_study(config)
    return config


def test_hard_sphere_study_report(tmp_path):
    config = hard_sphere_study()
    ref = write_reference(config, tmp_path / "reference.h5")
    exact = dict(zip(read_reference(ref).points.x[:, 0].tolist(),
                     read_reference(ref).exact.tolist(), strict=True))  # fmt: skip
    vmc = []
    for point in study_points(config):
        spec = runspec_for(config, "gauss", point.name)
        e = exact[point.omega] + 0.01 * point.omega  # a variational energy above the exact one
        tree = {
            "estimate": {"@attrs": {"energy": e, "energy_error": 1e-4, "variance": 1e-3}},
            "optimization": {"energy": e + 0.1 * np.exp(-np.arange(20) / 5.0)},
        }
        path = tmp_path / "vmc" / "gauss" / f"{point.name}.h5"
        vmc.append(write_artifact(path, tree, provenance("nqsflow.vmc/1", spec, seed=1)))
    theory = run_theory(config, "gauss", ref, tmp_path / "theory.h5", vmc)
    fit = run_fit(config, "gauss", "ridge", ref, theory, tmp_path / "fit.h5")
    bma = run_bma(config, ref, [fit], tmp_path / "bma.h5")
    written = write_report(config, ref, bma, [fit], [theory], vmc, tmp_path / "report")
    assert [p.name for p in written] == list(report_files(config))
    assert all(p.stat().st_size > 0 for p in written)
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "interaction `hard_sphere`" in summary and "| BMA |" in summary


def test_the_summary_page_renders_the_markdown_a_summary_uses():
    from nqsflow.report.html import markdown_html

    text = (
        "# study `a<b`\n\nIntro with **bold**\nover two lines.\n\n"
        "| model | weight |\n|---|---|\n| x/gp | 0.5000 |\n| **BMA** | 1 |\n\n- one\n- `two`\n"
    )
    page = markdown_html(text, "the title")
    body = page.split("<body>")[1]
    assert "<title>the title</title>" in page
    assert "<h1>study <code>a&lt;b</code></h1>" in body
    assert "<p>Intro with <strong>bold</strong> over two lines.</p>" in body
    assert "<tr><th>model</th><th>weight</th></tr>" in body
    assert "<tr><td>x/gp</td><td>0.5000</td></tr>" in body
    assert "<tr><td><strong>BMA</strong></td><td>1</td></tr>" in body
    assert "<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>" in body
    assert "|" not in body and "**" not in body and "`" not in body
