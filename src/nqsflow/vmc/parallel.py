"""Communicators the VMC driver is given: serial for tests, MPI for runs.

The numerics only ever sum arrays over ranks; checkpoints also gather each
rank's state on rank 0.  Both classes expose ``rank``, ``size``, ``sum``,
``bcast``, ``gather`` and ``abort``.
"""

from __future__ import annotations

import numpy as np


class SerialComm:
    """A one-rank communicator: sums and broadcasts are the identity."""

    rank = 0
    size = 1

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Elementwise sum over ranks (here: a float64 copy)."""
        return np.array(values, dtype=np.float64)

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        return obj

    def gather(self, obj) -> list:
        """Every rank's ``obj`` as a list on rank 0."""
        return [obj]

    def abort(self, code: int = 1) -> None:
        """End the job (serial: nothing else to end)."""
        raise SystemExit(code)


class MPIComm:
    """Wraps an mpi4py communicator; sums go through one ``Allreduce`` on a flat buffer."""

    def __init__(self, comm=None):
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Elementwise sum over ranks, identical on every rank."""
        from mpi4py import MPI

        send = np.ascontiguousarray(values, dtype=np.float64)
        recv = np.empty_like(send)
        self.comm.Allreduce(send, recv, op=MPI.SUM)
        return recv

    def bcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        return self.comm.bcast(obj, root=0)

    def gather(self, obj) -> list | None:
        """Every rank's ``obj`` as a list on rank 0 (None on the other ranks)."""
        return self.comm.gather(obj, root=0)

    def abort(self, code: int = 1) -> None:
        """Bring every rank down at once, so one failing rank never hangs the job."""
        self.comm.Abort(code)


def world() -> SerialComm | MPIComm:
    """MPI.COMM_WORLD when launched with more than one rank, else a serial communicator."""
    try:
        from mpi4py import MPI
    except ImportError:
        return SerialComm()
    comm = MPI.COMM_WORLD
    return MPIComm(comm) if comm.Get_size() > 1 else SerialComm()
