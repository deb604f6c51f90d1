"""The report stage: figures, ``summary.md`` and its page ``summary.html`` from every
artifact of a study.

The report is chosen by what the study holds: a trap study with VMC theories
(:mod:`nqsflow.report.dots`) or a study of nuclear masses
(:mod:`nqsflow.report.nuclear`).  Files are drawn in a staging folder and
renamed into place, so a failed report leaves the previous one whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nqsflow.artifacts import remove_stale_temporaries, temporary_prefix
from nqsflow.config import is_mass_study
from nqsflow.report.html import markdown_html


def report_files(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The file names the study's report writes: its kind's, and ``summary.html`` (the
    summary readable in Snakemake's HTML report) after ``summary.md``."""
    if is_mass_study(config):
        from nqsflow.report.nuclear import FILES
    else:
        from nqsflow.report.dots import FILES
    after = FILES.index("summary.md") + 1
    return (*FILES[:after], "summary.html", *FILES[after:])


def write_report(
    config: Mapping[str, Any],
    reference_path,
    bma_path,
    fit_paths: Sequence = (),
    theory_paths: Sequence = (),
    vmc_paths: Sequence = (),
    outdir: str | os.PathLike = "report",
) -> list[Path]:
    """Read the artifacts and write :func:`report_files` into ``outdir`` atomically."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    # a hidden folder named as a temporary of "staging", so that a later report removes
    # the one a killed report left (remove_stale_temporaries)
    staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(outdir / "staging"), suffix=".tmp",
                                    dir=outdir))  # fmt: skip
    try:
        if is_mass_study(config):
            from nqsflow.report import nuclear

            nuclear.write_report(config, reference_path, bma_path, fit_paths, theory_paths,
                                 staging)  # fmt: skip
        else:
            from nqsflow.report import dots

            dots.write_report(config, reference_path, bma_path, fit_paths, vmc_paths, staging)
        summary = (staging / "summary.md").read_text()
        title = f"nqsflow study {config['study']}"
        (staging / "summary.html").write_text(markdown_html(summary, title))
        written = []
        for name in report_files(config):
            os.replace(staging / name, outdir / name)
            written.append(outdir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    remove_stale_temporaries(outdir / "staging")
    return written
