"""``python -m nqsflow.data CONFIG.yaml --out PATH.h5``: write the exact reference artifact."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nqsflow.cli import run_cli
from nqsflow.config import load_slice
from nqsflow.data.generate import write_reference


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, load and validate the study, write the artifact; 0 on success."""
    parser = argparse.ArgumentParser(
        prog="python -m nqsflow.data",
        description="Exact two-body energies at every point of a study (schema nqsflow.data/1).",
    )
    parser.add_argument("config", help="study config or its generate slice (YAML)")
    parser.add_argument("--out", required=True, help="artifact to write (HDF5)")
    args = parser.parse_args(argv)
    config = load_slice(args.config)
    path = write_reference(config, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
