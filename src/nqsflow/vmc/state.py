"""The state of a VMC run, described once: what the driver advances and a checkpoint saves.

A :class:`VMCState` holds the parameters, the optimiser's state, the walkers
(a :class:`~nqsflow.vmc.samplers.SamplerState` with its per-walker caches), the
walker-block random streams and the optimisation history.  Part of it is the
same on every rank (``SHARED``), part is each rank's own (``LOCAL``).  What
follows from the positions and the parameters (ln psi, drift, caches) is not
saved: the sampler rebuilds it on restore exactly as it was built at the step
boundary where the checkpoint was taken, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nqsflow.vmc.samplers import SamplerState
from nqsflow.vmc.streams import WalkerStreams

HISTORY_KEYS = ("energy", "energy_error", "variance", "acceptance", "grad_norm", "parameters")


@dataclass
class VMCState:
    """One rank's complete run state (see the module docstring)."""

    params: np.ndarray
    params_initial: np.ndarray
    optimizer: dict[str, np.ndarray]
    walkers: SamplerState
    rng: WalkerStreams
    step: int = 0
    converged_at: int = -1  # optimisation step at which the convergence test passed
    history: dict[str, list] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Copies of the saved fields: ``shared`` (equal on every rank) and ``local``.

        Each part maps ``scalars`` (numbers and strings), ``arrays`` and ``groups``
        (dicts of arrays) to their values, the layout a checkpoint writes.
        """
        w = self.walkers
        return {
            "shared": {
                "scalars": {"step": self.step, "converged_at": self.converged_at},
                "arrays": {
                    "params": self.params.copy(),
                    "params_initial": self.params_initial.copy(),
                },
                "groups": {
                    "optimizer": {k: np.asarray(v).copy() for k, v in self.optimizer.items()},
                    "history": {k: np.asarray(v, dtype=float) for k, v in self.history.items()},
                },
            },
            "local": {
                "scalars": {
                    "step_size": w.step,
                    "accepted": w.accepted,
                    "proposed": w.proposed,
                    "rng": json.dumps(self.rng.state),
                },
                "arrays": {"positions": w.positions.copy()},
                "groups": {},
            },
        }

    def restored(self, snap: dict[str, dict[str, Any]]) -> VMCState:
        """This state with the saved fields of ``snap`` (positions not yet refreshed)."""
        shared, local = snap["shared"], snap["local"]
        self.rng.state = json.loads(local["scalars"]["rng"])
        walkers = SamplerState(
            np.array(local["arrays"]["positions"], dtype=float),
            None,
            None,
            float(local["scalars"]["step_size"]),
            int(local["scalars"]["accepted"]),
            int(local["scalars"]["proposed"]),
        )
        return replace(
            self,
            params=np.array(shared["arrays"]["params"], dtype=float),
            params_initial=np.array(shared["arrays"]["params_initial"], dtype=float),
            optimizer={k: np.array(v) for k, v in shared["groups"]["optimizer"].items()},
            walkers=walkers,
            step=int(shared["scalars"]["step"]),
            converged_at=int(shared["scalars"]["converged_at"]),
            history={k: list(np.asarray(v)) for k, v in shared["groups"]["history"].items()},
        )

    def history_arrays(self) -> dict[str, np.ndarray]:
        """The optimisation history as arrays; ``parameters`` has one more row (the start)."""
        out = {k: np.asarray(v, dtype=float) for k, v in self.history.items()}
        out["parameters"] = np.asarray([self.params_initial, *self.history["parameters"]])
        return out
