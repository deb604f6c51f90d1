"""Fit stage: statistical models of the residual observation - VMC energy.

:func:`fit_residuals` fits one model (GP or Bayesian ridge) to residuals;
:func:`run_fit` reads the reference and VMC artifacts of one ansatz and writes
an ``nqsflow.fit/1`` artifact with the corrected prediction at every point.
"""

from nqsflow.fit.models import (
    FitResult,
    fit_gp,
    fit_residuals,
    fit_ridge,
    poly_features,
    resolve_method,
    ridge_log_evidence,
    ridge_weights,
)
from nqsflow.fit.stage import SCHEMA, run_fit

__all__ = [
    "SCHEMA",
    "FitResult",
    "fit_gp",
    "fit_residuals",
    "fit_ridge",
    "poly_features",
    "resolve_method",
    "ridge_log_evidence",
    "ridge_weights",
    "run_fit",
]
