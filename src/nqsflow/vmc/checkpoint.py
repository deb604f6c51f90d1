"""Checkpoint and restart of a VMC run: every rank's full state in one HDF5 file.

A :class:`Checkpointer` is the driver's monitor: it saves at an interval, at
the end of the optimisation, and as soon as SIGTERM or SIGUSR1 arrives (what
SLURM sends before the wall-time limit), after which the run stops cleanly.
All ranks agree on "a signal arrived" through a sum, so they stop at the same
step.  Rank 0 gathers the ranks' states and writes; on restart every rank reads
its own part back, and the run continues bit for bit.
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


def snapshots_tree(snapshots: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Layout: ``/state`` (shared by all ranks, from rank 0) and ``/ranks/{r}`` (per rank)."""
    first = snapshots[0]
    tree: dict[str, Any] = {
        "state": {
            ATTRS: {"step": first["step"], "converged_at": first["converged_at"]},
            "params": first["params"],
            "params_initial": first["params_initial"],
            "optimizer": dict(first["optimizer"]),
            "history": dict(first["history"]),
        },
        "ranks": {},
    }
    for rank, snap in enumerate(snapshots):
        node = {
            ATTRS: {
                "step_size": snap["step_size"],
                "accepted": snap["accepted"],
                "proposed": snap["proposed"],
                "rng": json.dumps(snap["rng"]),
            },
            "positions": snap["positions"],
            "log_psi": snap["log_psi"],
        }
        if snap["drift"] is not None:
            node["drift"] = snap["drift"]
        tree["ranks"][str(rank)] = node
    return tree


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
    state, mine = tree["state"], tree["ranks"][str(rank)]
    return {
        "step": state[ATTRS]["step"],
        "converged_at": state[ATTRS]["converged_at"],
        "params": state["params"],
        "params_initial": state["params_initial"],
        "optimizer": {k: v for k, v in state["optimizer"].items() if k != ATTRS},
        "history": {k: v for k, v in state["history"].items() if k != ATTRS},
        "positions": mine["positions"],
        "log_psi": mine["log_psi"],
        "drift": mine.get("drift"),
        "step_size": mine[ATTRS]["step_size"],
        "accepted": mine[ATTRS]["accepted"],
        "proposed": mine[ATTRS]["proposed"],
        "rng": json.loads(mine[ATTRS]["rng"]),
    }


class Checkpointer:
    """Driver monitor that checkpoints at an interval, at the end, and on a signal."""

    def __init__(self, path, spec: Mapping[str, Any], comm, every: int = 50):
        self.path = Path(path)
        self.spec = spec
        self.comm = comm
        self.every = int(every)
        self.signalled = 0
        self.interrupted_at: int | None = None

    def install(self) -> None:
        """Catch SIGTERM and SIGUSR1: the next step boundary checkpoints and stops."""

        def handler(signum, frame):
            self.signalled = signum

        for sig in SIGNALS:
            signal.signal(sig, handler)

    def resume(self) -> dict[str, Any] | None:
        """This rank's snapshot if a checkpoint exists, else None."""
        if not self.path.exists():
            return None
        return read_checkpoint(self.path, self.spec, self.comm.rank, self.comm.size)

    def save(self, vmc) -> None:
        """Gather the ranks' snapshots; rank 0 writes them."""
        snapshots = self.comm.gather(vmc.snapshot())
        if self.comm.rank == 0:
            write_checkpoint(self.path, self.spec, snapshots)

    def after_step(self, vmc) -> bool:
        """Checkpoint when due; True (stop) once any rank has caught a signal."""
        stop = self.comm.sum(np.array([float(self.signalled)]))[0] > 0
        if stop or (self.every and vmc.step % self.every == 0):
            self.save(vmc)
        if stop:
            self.interrupted_at = vmc.step
        return bool(stop)

    def after_optimization(self, vmc) -> None:
        """Checkpoint the optimised state, so a restart skips straight to production."""
        self.save(vmc)

    def remove(self) -> None:
        """Delete the checkpoint once the final artifact is safely written."""
        if self.comm.rank == 0:
            self.path.unlink(missing_ok=True)
