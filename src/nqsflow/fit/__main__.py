"""``python -m nqsflow.fit CONFIG.yaml --theory T --method M --reference REF.h5
--theory-file T.h5 --out OUT.h5``: fit one residual model of one theory."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.cli import run_cli
from nqsflow.config import load_slice
from nqsflow.fit.stage import run_fit


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`nqsflow.fit.run_fit`."""
    parser = argparse.ArgumentParser(
        prog="python -m nqsflow.fit",
        description="Fit a statistical model of the residual observation - theory "
        "and write the corrected prediction at every study point.",
    )
    parser.add_argument("config", help="study config or its fit slice (YAML)")
    parser.add_argument("--theory", required=True, help="theory name (an ansatz, a mass model)")
    parser.add_argument("--method", required=True, help="method name under fit.methods")
    parser.add_argument("--reference", required=True, help="reference artifact (nqsflow.data)")
    parser.add_argument("--theory-file", required=True, help="theory artifact (nqsflow.theory)")
    parser.add_argument("--out", required=True, help="output artifact (nqsflow.fit)")
    args = parser.parse_args(argv)
    config = load_slice(args.config)
    run_fit(config, args.theory, args.method, args.reference, args.theory_file, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
