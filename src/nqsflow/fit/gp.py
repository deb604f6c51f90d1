"""Gaussian-process residual model (scikit-learn) with a choice of kernel."""

from __future__ import annotations

import warnings

import numpy as np

from nqsflow.fit.result import FitResult

KERNELS = ("rbf", "matern", "matern12", "matern32", "matern52", "rq")
"""``matern`` is the Matern 5/2 kernel (twice differentiable, as an energy curve is)."""
INPUTS = ("linear", "log")
_NU = {"matern": 2.5, "matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
_GP_RESTARTS = 4


def _shape_kernel(kernel: str, init: float, bounds: tuple[float, float]):
    from sklearn.gaussian_process.kernels import RBF, Matern, RationalQuadratic

    if kernel == "rbf":
        return RBF(length_scale=init, length_scale_bounds=bounds)
    if kernel == "rq":
        return RationalQuadratic(
            length_scale=init, alpha=1.0, length_scale_bounds=bounds, alpha_bounds=(1e-2, 1e3)
        )
    return Matern(length_scale=init, length_scale_bounds=bounds, nu=_NU[kernel])


def fit_gp(
    x, y, noise_var, x_all, *, kernel: str = "rbf", input: str = "linear", seed: int = 0
) -> FitResult:
    """Gaussian process: ConstantKernel * shape + small WhiteKernel, on omega or log(omega).

    ``kernel`` picks the shape (:data:`KERNELS`); ``input="log"`` makes the
    process stationary in ``log(omega)`` (residuals vary faster in weak traps).
    The target is normalised (mean removed, unit variance) and the known noise
    enters as per-point ``alpha`` (heteroscedastic); hyper-parameters maximise
    the log marginal likelihood, with ``seed`` fixing the optimiser restarts.
    The log evidence is that likelihood for the residuals in hartree (the
    normalisation's Jacobian, ``-m log(std)``, is added back).  The variance
    includes the fitted white noise: scatter the data show beyond their error
    bars, which a new point meets too.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel

    def transform(v):
        v = np.asarray(v, dtype=float).reshape(-1)
        return np.log(v) if input == "log" else v

    u = transform(x)
    y = np.asarray(y, dtype=float)
    y_mean = float(np.mean(y))
    y_std = float(np.std(y))
    if not y_std > 1e-12 * max(1.0, abs(y_mean)):
        # A constant residual carries no scale; keep the known noise as one.
        y_std = float(np.sqrt(max(np.mean(noise_var), 1e-300)))
    z = (y - y_mean) / y_std

    span = float(np.ptp(u))
    gaps = np.diff(np.unique(u))
    # Length scales below the closest pair of points are not resolved by the data.
    bounds = (float(gaps.min()), 100.0 * span)
    init = float(np.clip(0.5 * span, *bounds))
    # The white term is a floor for numerical stability (and absorbs
    # unexplained scatter); its lower bound keeps K well conditioned.
    k = ConstantKernel(1.0, (1e-3, 1e3)) * _shape_kernel(kernel, init, bounds) + WhiteKernel(
        1e-4, (1e-8, 1.0)
    )
    gp = GaussianProcessRegressor(
        kernel=k,
        alpha=np.asarray(noise_var, dtype=float) / y_std**2,
        normalize_y=False,
        n_restarts_optimizer=_GP_RESTARTS,
        random_state=int(seed) % 2**32,
    )
    with warnings.catch_warnings():
        # Hitting a bound (e.g. the white-noise floor) is expected, not a failure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(u[:, None], z)
    z_mean, z_std = gp.predict(transform(x_all)[:, None], return_std=True)
    shape = np.shape(x_all)
    mean = (y_mean + y_std * z_mean).reshape(shape)
    variance = ((y_std * z_std) ** 2).reshape(shape)
    log_evidence = float(gp.log_marginal_likelihood_value_) - y.size * np.log(y_std)
    params = gp.kernel_.get_params()
    hyper = {
        "kernel": kernel,
        "input": input,
        "amplitude": y_std * float(np.sqrt(params["k1__k1__constant_value"])),
        "length_scale": float(params["k1__k2__length_scale"]),
        "white_noise_var": y_std**2 * float(params["k2__noise_level"]),
        "y_mean": y_mean,
        "y_std": y_std,
    }
    if kernel == "rq":
        hyper["rq_alpha"] = float(params["k1__k2__alpha"])
    return FitResult(mean, variance, log_evidence, hyper)
