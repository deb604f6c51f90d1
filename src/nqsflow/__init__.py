"""nqsflow: exact data, neural-network VMC, model fitting and Bayesian model averaging."""

__version__ = "0.1.0"
