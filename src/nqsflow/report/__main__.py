"""``python -m nqsflow.report CONFIG.yaml --reference REF.h5 --bma BMA.h5 --fits F.h5 ...
--theories T.h5 ... [--vmc V.h5 ...] --outdir DIR``: the study's report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.cli import run_cli
from nqsflow.config import load_study
from nqsflow.report import write_report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`nqsflow.report.write_report`."""
    parser = argparse.ArgumentParser(prog="python -m nqsflow.report", description=__doc__)
    parser.add_argument("config", help="study config (YAML)")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--bma", required=True)
    parser.add_argument("--fits", nargs="*", default=[])
    parser.add_argument("--theories", nargs="*", default=[])
    parser.add_argument("--vmc", nargs="*", default=[])
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    config = load_study(args.config)
    write_report(config, args.reference, args.bma, args.fits, args.theories, args.vmc,
                 args.outdir)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
