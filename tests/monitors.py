"""A run monitor for restart tests: stops the optimisation after a given step."""

from __future__ import annotations


class StopAt:
    """Stops the optimisation after ``step`` steps, keeping that step's snapshot."""

    def __init__(self, step):
        self.step, self.snapshot = step, None

    def after_step(self, state):
        if state.step == self.step:
            self.snapshot = state.snapshot()
            return True
        return False

    def after_optimization(self, state):
        pass
