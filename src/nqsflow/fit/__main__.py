"""``python -m nqsflow.fit CONFIG.yaml --ansatz A --method M --reference REF.h5
--vmc F1.h5 ... --out OUT.h5``: fit one residual model of one ansatz."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.cli import run_cli
from nqsflow.config import load_study
from nqsflow.fit.stage import run_fit


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`nqsflow.fit.run_fit`."""
    parser = argparse.ArgumentParser(
        prog="python -m nqsflow.fit",
        description="Fit a statistical model of the residual observation - VMC "
        "for one ansatz and write the corrected prediction at every study point.",
    )
    parser.add_argument("config", help="study config (YAML)")
    parser.add_argument("--ansatz", required=True, help="ansatz name under vmc.ansatze")
    parser.add_argument("--method", required=True, help="method name under fit.methods")
    parser.add_argument("--reference", required=True, help="reference artifact (nqsflow.data)")
    parser.add_argument(
        "--vmc", required=True, nargs="+", help="VMC artifacts of the ansatz, one per point"
    )
    parser.add_argument("--out", required=True, help="output artifact (nqsflow.fit)")
    args = parser.parse_args(argv)
    config = load_study(args.config)
    run_fit(config, args.ansatz, args.method, args.reference, args.vmc, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
