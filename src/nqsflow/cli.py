"""Command-line plumbing shared by the stage CLIs (``python -m nqsflow.<stage>``).

User errors (:class:`NqsflowError`) print one line on stderr and exit with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Sequence

from nqsflow.errors import NqsflowError

STAGES = ("data", "vmc", "theory", "fit", "bma", "report")
# OSErrors that mean "the machine is out of something", not a bug: disk full, file
# too big (RLIMIT_FSIZE), quota, read-only file system, permission
_RESOURCE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv=None) -> int:
    """Run a stage's ``main(argv)``; turn a user error into one line and exit status 2."""
    try:
        return int(main(argv) or 0)
    except NqsflowError as exc:
        print(f"{_prog(main)}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # a size the memory check did not foresee
        print(f"{_prog(main)}: error: out of memory ({exc}); make the run smaller "
              "(walkers, samples, particles, network widths)", file=sys.stderr)  # fmt: skip
        return 2
    except OSError as exc:  # a full disk, a file-size limit, a folder not writable
        if exc.errno not in _RESOURCE_ERRNOS:
            raise
        print(f"{_prog(main)}: error: {exc.strerror} ({exc.filename or 'writing output'}); "
              "nothing written under the final name", file=sys.stderr)  # fmt: skip
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
