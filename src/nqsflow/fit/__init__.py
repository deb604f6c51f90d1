"""Fit stage: statistical models of the residual observation - theory.

:func:`fit_residuals` fits one model (a kind of :data:`METHODS`: GP, OLS, Ridge,
Lasso or Bayesian linear regression) to residuals at points with one or more
inputs; :func:`run_fit` reads the reference and one theory artifact and writes
an ``nqsflow.fit/1`` artifact with the corrected prediction at every point.
"""

from nqsflow.fit.blr import blr_posterior, fit_blr
from nqsflow.fit.features import design_matrix, feature_terms, poly_features
from nqsflow.fit.gp import KERNELS, fit_gp
from nqsflow.fit.linear import (
    extra_variance,
    fit_lasso,
    fit_ols,
    fit_ridge,
    ridge_cv_alpha,
    ridge_log_evidence,
    ridge_weights,
)
from nqsflow.fit.models import (
    EVIDENCE_METHODS,
    METHOD_DEFAULTS,
    METHODS,
    Method,
    fit_residuals,
    leave_one_out,
    resolve_method,
)
from nqsflow.fit.result import FitResult
from nqsflow.fit.stage import SCHEMA, run_fit

__all__ = [
    "EVIDENCE_METHODS",
    "KERNELS",
    "METHOD_DEFAULTS",
    "METHODS",
    "SCHEMA",
    "FitResult",
    "Method",
    "blr_posterior",
    "design_matrix",
    "extra_variance",
    "feature_terms",
    "fit_blr",
    "fit_gp",
    "fit_lasso",
    "fit_ols",
    "fit_residuals",
    "fit_ridge",
    "leave_one_out",
    "poly_features",
    "resolve_method",
    "ridge_cv_alpha",
    "ridge_log_evidence",
    "ridge_weights",
    "run_fit",
]
