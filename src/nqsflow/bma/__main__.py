"""``python -m nqsflow.bma CONFIG.yaml --reference REF.h5 --fits F1.h5 ... --out OUT.h5``:
average the fitted models and score them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.bma.stage import run_bma
from nqsflow.cli import run_cli
from nqsflow.config import load_slice


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`nqsflow.bma.run_bma`."""
    parser = argparse.ArgumentParser(
        prog="python -m nqsflow.bma",
        description="Bayesian model averaging of fitted models: weights from the "
        "test points, scores on the target points.",
    )
    parser.add_argument("config", help="study config or its bma slice (YAML)")
    parser.add_argument("--reference", required=True, help="reference artifact (nqsflow.data)")
    parser.add_argument("--fits", required=True, nargs="+", help="fit artifacts (nqsflow.fit)")
    parser.add_argument("--out", required=True, help="output artifact (nqsflow.bma)")
    args = parser.parse_args(argv)
    config = load_slice(args.config)
    run_bma(config, args.reference, args.fits, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
