"""The result every residual model returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FitResult:
    """Predictive mean and variance (shape ``(n,)``) of the residual at the requested omegas.

    ``variance`` (hartree^2) is that of the residual *function* plus the fitted
    scatter beyond the known noise (model discrepancy); the known noise of a new
    observation is added by the caller.  ``log_evidence`` is the log density of
    the training residuals under the fitted model (NaN where the method has
    none); ``hyper`` holds the fitted hyper-parameters as JSON-friendly values.
    """

    mean: np.ndarray
    variance: np.ndarray
    log_evidence: float
    hyper: dict[str, Any] = field(default_factory=dict)
