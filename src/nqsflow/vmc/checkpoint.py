"""Checkpoint and restart of a VMC run: every rank's full state in one HDF5 file.

A :class:`Checkpointer` is the driver's monitor: it saves at an interval, at
the end of the optimisation, and as soon as SIGTERM or SIGUSR1 arrives (what
SLURM sends before the wall-time limit), after which the run stops cleanly.
During the optimisation all ranks agree on "a signal arrived" through a sum, so
they stop at the same step.  Before the first step is done (burn-in) and in the
production there is nothing to save, so a signal stops the run at once
(:class:`Interrupted`): the burn-in is redone, the production restarts from the
checkpoint of the optimised state.  Rank 0 gathers the ranks' states and
writes; on restart every rank reads its own part back, and the run continues
bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, config_of, provenance, read_artifact, write_artifact
from nqsflow.errors import ArtifactError

SCHEMA = "nqsflow.vmc-checkpoint/1"
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def checkpoint_path(out: str | os.PathLike) -> Path:
    """Default checkpoint next to an artifact: ``run.h5`` -> ``run.checkpoint.h5``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.checkpoint.h5")


def _canonical(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True)


def _part_tree(part: Mapping[str, Any]) -> dict[str, Any]:
    # scalars become attributes, arrays datasets, groups subgroups of datasets
    node: dict[str, Any] = {ATTRS: dict(part["scalars"]), **part["arrays"]}
    for name, group in part["groups"].items():
        node[name] = dict(group)
    return node


def _tree_part(node: Mapping[str, Any]) -> dict[str, Any]:
    # the inverse of _part_tree: subgroups are the groups, datasets the arrays
    groups = tuple(k for k, v in node.items() if k != ATTRS and isinstance(v, dict))
    return {
        "scalars": dict(node[ATTRS]),
        "arrays": {k: v for k, v in node.items() if k != ATTRS and k not in groups},
        "groups": {g: {k: v for k, v in node[g].items() if k != ATTRS} for g in groups},
    }


def snapshots_tree(snapshots: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Layout: ``/state`` (shared by all ranks, from rank 0) and ``/ranks/{r}`` (per rank)."""
    return {
        "state": _part_tree(snapshots[0]["shared"]),
        "ranks": {str(rank): _part_tree(snap["local"]) for rank, snap in enumerate(snapshots)},
    }


def write_checkpoint(path, spec: Mapping[str, Any], snapshots: list[Mapping[str, Any]]) -> None:
    """Write every rank's snapshot atomically (call on rank 0 with the gathered list)."""
    attrs = provenance(SCHEMA, spec, seed=spec["seed"], mpi_ranks=len(snapshots))
    write_artifact(path, snapshots_tree(snapshots), attrs)


def read_checkpoint(path, spec: Mapping[str, Any], rank: int, size: int) -> dict[str, Any]:
    """This rank's snapshot; :class:`ArtifactError` if the file belongs to another run."""
    tree = read_artifact(path, schema=SCHEMA)
    if _canonical(config_of(tree)) != _canonical(spec):
        raise ArtifactError(path, "checkpoint of a different run spec; delete it to start afresh")
    ranks = int(tree[ATTRS]["mpi_ranks"])
    if ranks != size:
        raise ArtifactError(path, f"checkpoint written by {ranks} ranks; resume with {ranks}")
    try:
        return {
            "shared": _tree_part(tree["state"]),
            "local": _tree_part(tree["ranks"][str(rank)]),
        }
    except KeyError as exc:
        raise ArtifactError(path, f"checkpoint lacks {exc}; delete it to start afresh") from None


class Interrupted(BaseException):
    """A signal arrived where the run waits for no step boundary: ``phase`` is ``"start"``
    (burn-in, or the first step after a start or a resume) or ``"production"``.

    A BaseException, as KeyboardInterrupt: no ``except Exception`` on the way swallows it.
    """

    def __init__(self, phase: str):
        self.phase = phase
        super().__init__(phase)


class Checkpointer:
    """Driver monitor that checkpoints at an interval, at the end, and on a signal."""

    def __init__(self, path, spec: Mapping[str, Any], comm, every: int = 50):
        self.path = Path(path)
        self.spec = spec
        self.comm = comm
        self.every = int(every)
        self.signalled = 0
        self.interrupted_at: int | None = None
        # "start", "optimisation" (from the first step done), "production": only the
        # optimisation has step boundaries whose state is worth the wait
        self.phase = "start"
        self._replaced: dict[int, Any] = {}

    def install(self) -> None:
        """Catch SIGTERM and SIGUSR1: while optimising, the next step boundary checkpoints
        and stops; else :class:`Interrupted` is raised at once.

        The handler runs between the calls of the compiled sampling kernels: the
        production calls them in chunks, and the schema caps ``sampler.thin`` so
        that a chunk stays short.
        """

        def handler(signum, frame):
            self.signalled = signum
            if self.phase != "optimisation":
                raise Interrupted(self.phase)

        for sig in SIGNALS:
            self._replaced[sig] = signal.signal(sig, handler)

    def uninstall(self) -> None:
        """Put back the handlers :meth:`install` replaced."""
        for sig, handler in self._replaced.items():
            signal.signal(sig, handler)
        self._replaced = {}

    def resume(self) -> dict[str, Any] | None:
        """This rank's snapshot if a checkpoint exists, else None."""
        if not self.path.exists():
            return None
        return read_checkpoint(self.path, self.spec, self.comm.rank, self.comm.size)

    def save(self, state) -> None:
        """Gather the ranks' snapshots; rank 0 writes them."""
        snapshots = self.comm.gather(state.snapshot())
        if self.comm.rank == 0:
            write_checkpoint(self.path, self.spec, snapshots)

    def after_step(self, state) -> bool:
        """Checkpoint when due; True (stop) once any rank has caught a signal."""
        self.phase = "optimisation"
        stop = self.comm.sum(np.array([float(self.signalled)]))[0] > 0
        if stop or (self.every and state.step % self.every == 0):
            self.save(state)
        if stop:
            self.interrupted_at = state.step
        return bool(stop)

    def after_optimization(self, state) -> None:
        """Checkpoint the optimised state, so a restart skips straight to production."""
        self.save(state)
        self.phase = "production"
        if self.signalled:  # it came during the save, after the last step's check
            raise Interrupted(self.phase)

    def remove(self) -> None:
        """Delete the checkpoint once the final artifact is safely written."""
        if self.comm.rank == 0:
            self.path.unlink(missing_ok=True)
