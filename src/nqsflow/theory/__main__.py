"""``python -m nqsflow.theory CONFIG.yaml --name T --reference REF.h5 [--vmc F.h5 ...]
--out OUT.h5``: one theory's predictions at the study's points."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.cli import run_cli
from nqsflow.config import load_slice
from nqsflow.theory.stage import run_theory


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run :func:`nqsflow.theory.run_theory`."""
    parser = argparse.ArgumentParser(
        prog="python -m nqsflow.theory",
        description="Write one theory's predictions (VMC runs gathered, a mass table, "
        "a fitted liquid drop) at every point of the study (schema nqsflow.theory/1).",
    )
    parser.add_argument("config", help="study config or its theory slice (YAML)")
    parser.add_argument("--name", required=True, help="theory name")
    parser.add_argument("--reference", required=True, help="reference artifact (nqsflow.data)")
    parser.add_argument("--vmc", nargs="*", default=[], help="VMC artifacts of a vmc theory")
    parser.add_argument("--out", required=True, help="output artifact (nqsflow.theory)")
    args = parser.parse_args(argv)
    config = load_slice(args.config)
    run_theory(config, args.name, args.reference, args.out, args.vmc)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
