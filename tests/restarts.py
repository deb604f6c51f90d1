"""Restart tests: stop a run after a step, resume it through the checkpoint file, and
compare it with the run that went through."""

from __future__ import annotations

import numpy as np

from nqsflow.vmc.checkpoint import read_checkpoint, write_checkpoint
from nqsflow.vmc.driver import run


class StopAt:
    """A monitor that stops the optimisation after ``step`` steps, keeping the snapshot."""

    def __init__(self, step):
        self.step, self.snapshot = step, None

    def after_step(self, state):
        if state.step == self.step:
            self.snapshot = state.snapshot()
            return True
        return False

    def after_optimization(self, state):
        pass


def assert_restart_is_bit_identical(spec, folder, step: int = 3) -> None:
    """A run of ``spec`` stopped after ``step`` steps and resumed from its checkpoint
    file (as a resumed job reads it) gives the uninterrupted run's numbers bit for bit."""
    whole = run(spec)
    monitor = StopAt(step)
    assert run(spec, monitor=monitor) is None
    path = folder / "run.checkpoint.h5"
    write_checkpoint(path, spec, [monitor.snapshot])
    resumed = run(spec, snapshot=read_checkpoint(path, spec, rank=0, size=1))
    np.testing.assert_array_equal(resumed.history["energy"], whole.history["energy"])
    np.testing.assert_array_equal(resumed.params_final, whole.params_final)
    np.testing.assert_array_equal(resumed.energy_series, whole.energy_series)
    assert resumed.energy == whole.energy
