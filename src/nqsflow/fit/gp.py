"""Gaussian-process residual model (scikit-learn) with a registry of kernel shapes.

Inputs are ``(m, k)`` arrays (``(m,)`` for one input); the shape kernel has one
length scale per input (anisotropic), so that, on the nuclear chart, the
residual may vary at different rates along Z and along N.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from nqsflow.fit.result import FitResult

_NU = {"matern": 2.5, "matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
_GP_RESTARTS = 4


def _matern(nu: float) -> Callable:
    def build(init, bounds):
        from sklearn.gaussian_process.kernels import Matern

        return Matern(length_scale=init, length_scale_bounds=bounds, nu=nu)

    return build


def _rbf(init, bounds):
    from sklearn.gaussian_process.kernels import RBF

    return RBF(length_scale=init, length_scale_bounds=bounds)


def _rq(init, bounds):
    from sklearn.gaussian_process.kernels import RationalQuadratic

    # sklearn's RQ has one length scale: the geometric mean of the per-input ones
    scale = float(np.exp(np.mean(np.log(init))))
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 2)
    lo, hi = float(np.min(bounds[:, 0])), float(np.max(bounds[:, 1]))
    return RationalQuadratic(
        length_scale=scale, alpha=1.0, length_scale_bounds=(lo, hi), alpha_bounds=(1e-2, 1e3)
    )


KERNELS: dict[str, Callable] = {
    "rbf": _rbf,
    "matern": _matern(2.5),
    "matern12": _matern(0.5),
    "matern32": _matern(1.5),
    "matern52": _matern(2.5),
    "rq": _rq,
}
"""Kernel shapes by name: ``builder(initial length scales (k,), bounds (k, 2))``.
``matern`` is the Matern 5/2 kernel (twice differentiable, as an energy curve is);
``rq`` (rational quadratic) is isotropic."""
INPUTS = ("linear", "log")


def _as_columns(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v.reshape(-1, 1) if v.ndim <= 1 else v


def fit_gp(
    x,
    y,
    noise_var,
    x_all,
    *,
    kernel: str = "rbf",
    input: str = "linear",
    seed: int = 0,
    max_train: int | None = None,
    restarts: int = _GP_RESTARTS,
) -> FitResult:
    """Gaussian process: ConstantKernel * shape + small WhiteKernel, on x or log(x).

    ``x`` is ``(m,)`` or ``(m, k)``; the result has ``len(x_all)`` points.
    ``kernel`` picks the shape (:data:`KERNELS`); ``input="log"`` makes the
    process stationary in ``log(x)`` (residuals vary faster in weak traps).
    The target is normalised (mean removed, unit variance) and the known noise
    enters as per-point ``alpha`` (heteroscedastic); hyper-parameters maximise
    the log marginal likelihood, with ``seed`` fixing the optimiser restarts.
    With ``max_train`` below ``m`` the hyper-parameters are fitted on that many
    train points drawn at random (seed ``seed``) -- the cost grows as ``m^3``
    per likelihood evaluation -- and the process is then conditioned on all of
    them.  The log evidence is that likelihood (of all train points) for the
    residuals in their own units (the normalisation's Jacobian, ``-m log(std)``,
    is added back).  The variance includes the fitted white noise: scatter the
    data show beyond their error bars, which a new point meets too.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel

    def transform(v):
        v = _as_columns(v)
        return np.log(v) if input == "log" else v

    u = transform(x)
    y = np.asarray(y, dtype=float)
    noise_var = np.asarray(noise_var, dtype=float)
    y_mean = float(np.mean(y))
    y_std = float(np.std(y))
    if not y_std > 1e-12 * max(1.0, abs(y_mean)):
        # A constant residual carries no scale; keep the known noise as one.
        y_std = float(np.sqrt(max(np.mean(noise_var), 1e-300)))
    z = (y - y_mean) / y_std

    bounds = np.empty((u.shape[1], 2))
    for j in range(u.shape[1]):
        gaps = np.diff(np.unique(u[:, j]))
        span = float(np.ptp(u[:, j]))
        # Length scales below the closest pair of points are not resolved by the data.
        low = float(gaps.min()) if gaps.size else 1.0
        bounds[j] = (low, max(100.0 * span, 10.0 * low))
    init = np.clip(0.5 * np.ptp(u, axis=0), bounds[:, 0], bounds[:, 1])
    shape = KERNELS[kernel](init if u.shape[1] > 1 else float(init[0]),
                            bounds if u.shape[1] > 1 else tuple(bounds[0]))  # fmt: skip
    # The white term is a floor for numerical stability (and absorbs
    # unexplained scatter); its lower bound keeps K well conditioned.
    k = ConstantKernel(1.0, (1e-3, 1e3)) * shape + WhiteKernel(1e-4, (1e-8, 1.0))
    alpha = noise_var / y_std**2
    fit_rows = np.arange(y.size)
    if max_train is not None and y.size > max_train:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(3,)))
        fit_rows = np.sort(rng.choice(y.size, size=int(max_train), replace=False))
    gp = GaussianProcessRegressor(
        kernel=k,
        alpha=alpha[fit_rows],
        normalize_y=False,
        n_restarts_optimizer=restarts,
        random_state=int(seed) % 2**32,
    )
    with warnings.catch_warnings():
        # Hitting a bound (e.g. the white-noise floor) is expected, not a failure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(u[fit_rows], z[fit_rows])
    if fit_rows.size < y.size:
        # condition on every train point with the fitted hyper-parameters
        gp = GaussianProcessRegressor(kernel=gp.kernel_, alpha=alpha, optimizer=None)
        gp.fit(u, z)
    z_mean, z_std = gp.predict(transform(x_all), return_std=True)
    mean = y_mean + y_std * z_mean
    variance = (y_std * z_std) ** 2
    if np.ndim(x_all) <= 1:
        mean, variance = mean.reshape(np.shape(x_all)), variance.reshape(np.shape(x_all))
    log_evidence = float(gp.log_marginal_likelihood_value_) - y.size * np.log(y_std)
    params = gp.kernel_.get_params()
    scales = np.atleast_1d(params["k1__k2__length_scale"]).astype(float)
    hyper = {
        "kernel": kernel,
        "input": input,
        "amplitude": y_std * float(np.sqrt(params["k1__k1__constant_value"])),
        "length_scale": float(scales[0]) if scales.size == 1 else scales.tolist(),
        "white_noise_var": y_std**2 * float(params["k2__noise_level"]),
        "y_mean": y_mean,
        "y_std": y_std,
        "hyper_train_points": int(fit_rows.size),
    }
    if kernel == "rq":
        hyper["rq_alpha"] = float(params["k1__k2__alpha"])
    return FitResult(mean, variance, log_evidence, hyper)
