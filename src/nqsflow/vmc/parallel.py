"""Communicators the VMC driver is given: serial for tests, MPI for runs.

The numerics only ever sum arrays over ranks; checkpoints also gather each
rank's state on rank 0.  Both classes expose ``rank``, ``size``, ``sum``,
``bcast``, ``gather`` and ``abort``.  :func:`world` also sets the process's
allocator to keep freed memory (see :func:`retain_freed_memory`).
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts: blocks below it come from the heap
_TRIM_THRESHOLD = 256 << 20  # free memory the heap keeps before handing it back
_TOP_PAD = 64 << 20  # extra grown with each heap extension, so growth is rare


def retain_freed_memory() -> bool:
    """Keep freed blocks in the heap for reuse instead of returning them to the OS.

    An SR step allocates and frees the same temporaries (the walkers' O and the
    ansatz's intermediates, a few MB) every step.  glibc's defaults unmap or trim
    most of them, so each step faulted its memory in afresh: 310 minor page faults
    per step at 2000 walkers, 1190 at 8000 (a fifth to a quarter of the step
    time on one rank); with many ranks the zeroing of fresh pages also competes
    for the shared memory bandwidth.  Returns whether the allocator took the
    setting (glibc only).
    """
    try:  # the C library is in the process already: no search for it
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: leave the allocator be
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
            (_M_TOP_PAD, _TOP_PAD),
        )
    )


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
        sys.stdout.flush()  # what this rank said goes out before the job is torn down
        sys.stderr.flush()
        self.comm.Abort(code)


def world() -> SerialComm | MPIComm:
    """MPI.COMM_WORLD when launched with more than one rank, else a serial communicator.

    Also calls :func:`retain_freed_memory`: every VMC process starts here.
    """
    retain_freed_memory()
    try:
        from mpi4py import MPI
    except ImportError:
        return SerialComm()
    comm = MPI.COMM_WORLD
    return MPIComm(comm) if comm.Get_size() > 1 else SerialComm()
