# nqsflow: generate -> [vmc] -> theory -> fit -> bma -> report, every stage an HDF5 artifact.
import sys

from nqsflow import workflow as wf
from nqsflow.config import check_study, runspec_for, study_points
from nqsflow.errors import ConfigError, SetupError


# --configfile replaces the default study instead of merging into it
if not config:

    configfile: "config/config.yaml"


try:
    check_study(config)
except ConfigError as exc:
    sys.exit(f"nqsflow: invalid config: {exc}")

STUDY = wf.study_dir(config)
# the rules run this Python and its mpiexec, whatever PATH the job inherits
PYTHON = sys.executable
ANSATZE = wf.ansatze(config)
try:
    # a launcher for the VMC ranks, checked here: before any job starts
    MPIEXEC = wf.mpi_launcher(config, PYTHON, wf.launcher_overridden(workflow)) if ANSATZE else ""
except SetupError as exc:
    sys.exit(f"nqsflow: {exc}")
THEORIES = wf.theory_names(config)
METHODS = list(config["fit"]["methods"])


wildcard_constraints:
    theory=wf.wildcard_pattern(THEORIES),
    method=wf.wildcard_pattern(METHODS),
    part=wf.wildcard_pattern(wf.slice_names(config)),


# `snakemake --report report.html`: this page, then the report files of the study
report: "workflow/report/workflow.rst"


onsuccess:
    print(wf.success_message(config), file=sys.stderr)


onerror:
    print(wf.error_message(config, log), file=sys.stderr)


rule all:
    input:
        wf.report_paths(config),


include: "workflow/rules/generate.smk"


if ANSATZE:

    include: "workflow/rules/vmc.smk"


include: "workflow/rules/theory.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/bma.smk"
include: "workflow/rules/report.smk"
