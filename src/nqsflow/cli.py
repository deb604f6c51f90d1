"""Command-line plumbing shared by the stage CLIs (``python -m nqsflow.<stage>``).

User errors (:class:`NqsflowError`) print one line on stderr and exit with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from nqsflow.errors import NqsflowError

STAGES = ("data", "vmc", "theory", "fit", "bma", "report")


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv=None) -> int:
    """Run a stage's ``main(argv)``; turn a user error into one line and exit status 2."""
    try:
        return int(main(argv) or 0)
    except NqsflowError as exc:
        print(f"{_prog(main)}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _prog(main) -> str:
    # under `python -m`, __module__ is "__main__" but the spec keeps the real name
    spec = getattr(main, "__globals__", {}).get("__spec__")
    name = spec.name if spec is not None else getattr(main, "__module__", "nqsflow")
    return name.removesuffix(".__main__")


def main(argv: Sequence[str] | None = None) -> int:
    """``nqsflow STAGE ...``: dispatch to ``python -m nqsflow.STAGE ...``."""
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in STAGES:
        print(f"usage: nqsflow {{{','.join(STAGES)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(f"nqsflow.{argv[0]}")
    if hasattr(module, "__path__"):  # a package: its CLI lives in __main__
        module = importlib.import_module(f"nqsflow.{argv[0]}.__main__")
    # a stage's `entry` is what `python -m` runs (vmc: abort every MPI rank when one fails)
    if hasattr(module, "entry"):
        return int(module.entry(argv[1:]) or 0)
    return run_cli(module.main, argv[1:])
