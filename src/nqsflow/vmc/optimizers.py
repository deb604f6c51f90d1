"""First-order optimisers of the variational parameters.

Each optimiser keeps its state in a plain dict of arrays (so a run can be
checkpointed) and maps ``(params, gradient)`` to new parameters.
"""

from __future__ import annotations

import numpy as np

from nqsflow.errors import ConfigError


class SGD:
    """Plain gradient descent: p <- p - learning_rate * g."""

    def __init__(self, learning_rate: float = 0.05):
        self.learning_rate = float(learning_rate)

    def init(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Optimiser state for ``params`` (SGD keeps none)."""
        return {}

    def update(self, params, gradient, state):
        """New parameters and state after one step along ``-gradient``."""
        return params - self.learning_rate * gradient, state


class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moment estimates."""

    def __init__(self, learning_rate=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
        self.learning_rate = float(learning_rate)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Zero first and second moments and a step counter."""
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "t": np.array(0)}

    def update(self, params, gradient, state):
        """New parameters and state after one Adam step."""
        t = int(state["t"]) + 1
        m = self.beta1 * state["m"] + (1 - self.beta1) * gradient
        v = self.beta2 * state["v"] + (1 - self.beta2) * gradient**2
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        step = self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)
        return params - step, {"m": m, "v": v, "t": np.array(t)}


def build_optimizer(spec: dict):
    """The optimiser named by a run spec's ``optimizer`` section."""
    kind = spec["kind"]
    lr = spec.get("learning_rate", 0.05)
    if kind == "sgd":
        return SGD(lr)
    if kind == "adam":
        return Adam(lr)
    raise ConfigError(f"optimizer.kind: unknown optimiser {kind!r}")
