# nqsflow: generate -> vmc -> fit -> bma -> report, every stage an HDF5 artifact.
import sys

from nqsflow import workflow as wf
from nqsflow.config import check_study, runspec_for, study_points
from nqsflow.errors import ConfigError


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
MPIEXEC = wf.mpiexec_beside(PYTHON)
POINTS = [p.name for p in study_points(config)]
ANSATZE = list(config["vmc"]["ansatze"])
METHODS = list(config["fit"]["methods"])


wildcard_constraints:
    ansatz=wf.wildcard_pattern(ANSATZE),
    point=wf.wildcard_pattern(POINTS),
    method=wf.wildcard_pattern(METHODS),


rule all:
    input:
        wf.report_paths(config),


include: "workflow/rules/generate.smk"
include: "workflow/rules/vmc.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/bma.smk"
include: "workflow/rules/report.smk"
