"""``python -m nqsflow.vmc RUNSPEC.yaml --out OUT.h5`` (also under ``mpiexec -n K``).

Every rank runs the same code on its own walkers; rank 0 writes the artifact.
Under MPI the ranks agree on their setup (arguments, spec, checkpoint): a bad input
is said once and every rank ends with status 2. A divergence, which every rank
sees at the same step, ends them the same way. Any other failure on one rank
aborts the whole job, so nothing hangs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from nqsflow.cli import run_cli
from nqsflow.config import check_memory, load_runspec
from nqsflow.errors import DivergenceError
from nqsflow.vmc.artifact import write_result
from nqsflow.vmc.checkpoint import Checkpointer, Interrupted, checkpoint_path
from nqsflow.vmc.driver import run
from nqsflow.vmc.parallel import world
from nqsflow.vmc.runspec import resolved_runspec

INTERRUPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM/SIGUSR1 after writing a checkpoint
# the lines a run prints while it works (start, progress, production), not errors
PROGRESS = re.compile(r"^(\d+ particles in |step \d+/\d+ |production: )")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nqsflow.vmc", description=__doc__)
    parser.add_argument("runspec", help="YAML run spec (system, ansatz, sampler, ...)")
    parser.add_argument("--out", required=True, help="HDF5 artifact to write")
    parser.add_argument(
        "--log-every", type=int, default=None,
        help="optimisation steps per progress line (default: a twentieth of the steps)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint",
        help="checkpoint file (default: OUT with .checkpoint.h5); resumed if present",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=50, help="steps between checkpoints (0: only at "
        "the end of the optimisation and on SIGTERM/SIGUSR1)"
    )
    args = parser.parse_args(argv)
    if (args.log_every is not None and args.log_every < 1) or args.checkpoint_every < 0:
        parser.error("--log-every must be at least 1 and --checkpoint-every at least 0")
    return args


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_line(step: int, total: int, stats, elapsed: float, left: float | None) -> str:
    """One progress line: step of total, energy, variance, acceptance, time spent and left."""
    line = (
        f"step {step}/{total} ({100 * step / max(total, 1):.0f}%)  E = {stats.energy:.6f} +- "
        f"{stats.energy_error:.6f}  var = {stats.variance:.3e}  acc = {stats.acceptance:.2f}"
        f"  elapsed {_clock(elapsed)}"
    )
    return line if left is None else f"{line}  left ~{_clock(left)}"


def start_line(spec, ranks: int) -> str:
    """What a run is about to do, in one line; ``spec`` with its defaults (resolved_runspec)."""
    system, sampler, opt = spec["system"], spec["sampler"], spec["optimizer"]
    kinds = " x ".join(c["kind"] for c in spec["ansatz"])
    return (
        f"{system['particles']} particles in {system['dim']}D, omega = {system['omega']:g}; "
        f"{kinds}; {sampler['walkers']} walkers x {ranks} ranks; {opt['steps']} {opt['kind']} "
        f"steps of {opt['samples']} samples, then {spec['production']['samples']} production "
        "samples"
    )


@dataclass
class Setup:
    """What a rank needs to run: its arguments, its spec and its (resumed) checkpoint."""

    args: argparse.Namespace
    spec: dict
    checkpointer: Checkpointer
    snapshot: dict | None
    start: float
    reduced: bool = False  # past the last reduction: a failure now leaves no rank waiting


def setup(argv, comm) -> Setup:
    """Read the arguments and the spec, check the memory, resume a checkpoint if present."""
    start = time.perf_counter()
    args = parse_args(argv)
    spec = load_runspec(args.runspec)
    check_memory(spec, comm.size, source=args.runspec)
    checkpointer = Checkpointer(
        args.checkpoint or checkpoint_path(args.out), spec, comm, args.checkpoint_every
    )
    snapshot = checkpointer.resume()
    if snapshot is not None and comm.rank == 0:
        step = snapshot["shared"]["scalars"]["step"]
        print(f"resuming from {checkpointer.path} at step {step}", file=sys.stderr)
    return Setup(args, spec, checkpointer, snapshot, start)


def main(argv=None) -> int:
    """``python -m nqsflow.vmc``: set up, run, write the artifact; the exit status."""
    comm = world()
    return execute(setup(argv, comm), comm)


def execute(ready: Setup, comm) -> int:
    """Optimise and sample as ``ready`` says; rank 0 writes the artifact. The exit status."""
    args, spec, checkpointer, snapshot = ready.args, ready.spec, ready.checkpointer, ready.snapshot
    resolved, start = resolved_runspec(spec), ready.start
    total = int(resolved["optimizer"]["steps"])
    every = args.log_every or max(1, total // 20)  # about 20 lines, whatever the length
    first: list[tuple[int, float]] = []  # the first step seen (its time includes start-up)

    def log(step, stats):
        if comm.rank != 0:
            return
        now = time.perf_counter() - start
        if not first:  # the run is built and working: say what it does
            first.append((step + 1, now))
            print(start_line(resolved, comm.size), file=sys.stderr, flush=True)
        if (step + 1) % every and step + 1 != total:
            return
        done, at = first[0]
        left = None
        if done < step + 1 < total:  # the mean step so far, start-up left out
            left = (now - at) / (step + 1 - done) * (total - step - 1)
        print(progress_line(step + 1, total, stats, now, left), file=sys.stderr, flush=True)
        if step + 1 == total:
            print(f"production: {spec['production']['samples']} samples", file=sys.stderr,
                  flush=True)  # fmt: skip

    checkpointer.install()
    try:
        result = run(spec, comm=comm, callback=log, monitor=checkpointer, snapshot=snapshot)
        ready.reduced = True
        if result is not None and comm.rank == 0:
            write_result(args.out, spec, result, comm.size)
    except Interrupted as exc:
        return stopped_at_once(exc, checkpointer, comm)
    except DivergenceError as exc:
        # every rank sees the same sums, so every rank stops here at the same step
        kept = (
            f"checkpoint {checkpointer.path} (the last good state) kept"
            if checkpointer.path.exists()
            else "no checkpoint yet"
        )
        error = DivergenceError(
            exc.step, exc.quantity, f"{exc.problem}; {kept}; no {args.out} written"
        )
        if comm.size == 1:
            raise error from None
        # run's checks raise on every rank at once, write_result's on rank 0 after the
        # last reduction: no rank is left waiting, so the ranks end without an abort
        raise Settled(error) from None
    finally:  # the artifact is written whole or not at all: signals as before install
        checkpointer.uninstall()
    if result is None:
        if comm.rank == 0:
            print(
                f"interrupted by a signal at step {checkpointer.interrupted_at}; state saved to "
                f"{checkpointer.path}: run the same command again to resume",
                file=sys.stderr,
            )
        return INTERRUPTED
    if comm.rank == 0:
        checkpointer.remove()
        print(
            f"E = {result.energy:.6f} +- {result.energy_error:.6f} (variance "
            f"{result.variance:.3e}, {result.samples} samples, {comm.size} ranks, "
            f"{time.perf_counter() - start:.1f} s) -> {args.out}",
            file=sys.stderr,
        )
    return 0


class Settled(Exception):
    """A user error after which no rank waits on another: rank 0 reports it and every
    rank ends without an abort.

    An MPI abort tears the job down at once and can lose the ranks' last lines on
    their way through ``mpiexec``, so it is kept for a rank that fails alone.
    """


def stopped_at_once(exc: Interrupted, checkpointer: Checkpointer, comm) -> int:
    """Say where a signal outside the optimisation stopped the run; the exit status."""
    where = "during the production" if exc.phase == "production" else "before its first step"
    if checkpointer.path.exists():  # a resumed run's, or the optimised state's
        then = f"state saved to {checkpointer.path}: run the same command again to resume"
    else:
        then = "nothing saved yet: run the same command again to start afresh"
    print(f"interrupted by a signal {where}; {then}", file=sys.stderr, flush=True)
    if comm.size > 1:  # this rank alone may have caught it: end the others' reductions
        comm.abort(INTERRUPTED)
    return INTERRUPTED


def entry(argv=None) -> int:
    """Run :func:`main`; under MPI the ranks agree on their setup, and a rank that fails
    alone while others may wait on it aborts them all, so nothing hangs."""
    comm = world()
    if comm.size == 1:
        return run_cli(main, argv)
    try:
        ready, status = agreed_setup(argv, comm)
        if ready is None:
            return status
        status = run_cli(lambda _: execute(ready, comm), argv)
    except Settled as exc:
        if comm.rank == 0:
            print(f"nqsflow.vmc: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except BaseException as exc:  # a bug on one rank: report it and end every rank
        print(f"nqsflow.vmc: rank {comm.rank}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.stderr.flush()
        comm.abort(1)
        raise
    if status not in (0, INTERRUPTED) and not ready.reduced:  # others may wait on this rank
        comm.abort(status)
    return status


def agreed_setup(argv, comm) -> tuple[Setup | None, int]:
    """:func:`setup` on every rank, then agree: all go on, or all end with one report.

    A bad argument, spec or checkpoint fails on every rank alike; the lowest failing
    rank says why (once, not once per rank) and every rank ends normally, so no
    abort can lose the line. Returns this rank's setup (None if any rank failed)
    and the exit status.
    """
    said, shown, ready = io.StringIO(), io.StringIO(), []  # stderr; stdout (--help)
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(shown):
            try:
                status = run_cli(lambda a: ready.append(setup(a, comm)), argv)
            except SystemExit as exc:  # argparse's usage error, after its message
                status = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # a bug: show what was said before the traceback
        sys.stdout.write(shown.getvalue())
        sys.stderr.write(said.getvalue())
        raise
    statuses = np.zeros(comm.size)
    statuses[comm.rank] = status
    statuses = comm.sum(statuses).astype(int)  # every rank's status, on every rank
    failed = np.flatnonzero(statuses)
    reporter = failed[0] if failed.size else 0  # the ranks said the same: one says it
    if comm.rank == reporter:
        sys.stdout.write(shown.getvalue())
        sys.stderr.write(said.getvalue())
        sys.stdout.flush()
        sys.stderr.flush()
    if failed.size or not ready:  # a failure, or --help
        return None, int(statuses[reporter])
    return ready[0], 0


if __name__ == "__main__":
    raise SystemExit(entry())
