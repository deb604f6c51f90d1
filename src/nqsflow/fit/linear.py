"""Least-squares residual models: OLS, Ridge and Lasso on a feature expansion.

Shapes: train inputs ``x``, ``y`` (hartree) and ``noise_var`` (known noise
variance per point, hartree^2) are ``(m,)``; predictions are at ``x_all``.
None of these methods has a proper evidence (OLS and Lasso have no prior;
Ridge is read as Bayesian regression below and keeps the seed's evidence).

Predictive variances.  A linear smoother's prediction at ``x*`` has variance
``sigma2 * h(x*)`` with the leverage ``h(x*) = x*^T (X^T W X)^-1 x*``; the
scatter ``sigma2`` beyond the known noise is kept as model discrepancy that a
new point meets too, so it is added once more (``excess``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg, optimize

from nqsflow.fit.features import OMEGA, design_matrix, poly_features
from nqsflow.fit.result import FitResult

RIDGE_ALPHAS = np.logspace(-10, 2, 49)
"""Grid of the ridge penalty searched by leave-one-out CV (``alpha: cv``)."""


def _shaped(values: np.ndarray, like) -> np.ndarray:
    """``values`` in the shape of the points ``like``: ``(n,)`` for ``(n, k)`` inputs."""
    shape = np.shape(like)
    return np.asarray(values).reshape(shape[:1] if len(shape) == 2 else shape)


def _rows(x, inputs) -> np.ndarray:
    """Points as ``design_matrix`` takes them: flat omegas, or ``(n, k)`` rows."""
    return np.ravel(x) if tuple(inputs) == OMEGA else np.asarray(x, dtype=float)


def _floor(y: np.ndarray) -> float:
    """A variance far below anything physical, to keep weights finite."""
    return 1e-30 * max(1.0, float(np.mean(y**2)))


# ------------------------------------------------------------------------- OLS


def extra_variance(X: np.ndarray, y: np.ndarray, noise_var: np.ndarray) -> float:
    """Paule-Mandel scatter ``s2 >= 0``: the weighted chi^2 with ``1/(noise + s2)`` is ``m - p``.

    Zero when the known noise explains the residuals already, or when no degree
    of freedom is left (``m <= p``).
    """
    m, p = X.shape
    if m <= p:
        return 0.0
    floor = _floor(y)

    def excess_chi2(s2: float) -> float:
        w = 1.0 / np.maximum(noise_var + s2, floor)
        beta = _wls(X, y, w)
        return float(np.sum(w * (y - X @ beta) ** 2)) - (m - p)

    if excess_chi2(0.0) <= 0.0:
        return 0.0
    upper = float(np.var(y)) + float(np.max(noise_var)) + floor
    while excess_chi2(upper) > 0.0:  # chi^2 falls like 1/s2: this ends
        upper *= 10.0
    return float(optimize.brentq(excess_chi2, 0.0, upper, xtol=1e-14 * upper, rtol=1e-12))


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    root = np.sqrt(w)
    return linalg.lstsq(X * root[:, None], y * root)[0]


def fit_ols(x, y, noise_var, x_all, terms: Sequence[str], inputs=OMEGA) -> FitResult:
    """Ordinary (weighted) least squares, the normal equations ``(X^T W X) b = X^T W y``.

    ``W = diag(1 / (noise_var + s2))`` with the Paule-Mandel scatter ``s2`` of
    :func:`extra_variance`: with equal known noise this is plain OLS and ``s2 +
    noise`` is the usual ``RSS / (m - p)``.  Variance at ``x*``:
    ``x*^T (X^T W X)^-1 x* + s2``.
    """
    y = np.asarray(y, dtype=float)
    noise_var = np.asarray(noise_var, dtype=float)
    X = design_matrix(x, terms, inputs)
    if X.shape[0] < X.shape[1]:
        from nqsflow.errors import ConfigError

        raise ConfigError(f"ols needs at least {X.shape[1]} train points, got {X.shape[0]}")
    s2 = extra_variance(X, y, noise_var)
    w = 1.0 / np.maximum(noise_var + s2, _floor(y))
    beta = _wls(X, y, w)
    cov = linalg.pinvh(X.T @ (X * w[:, None]))
    X_all = design_matrix(_rows(x_all, inputs), terms, inputs)
    variance = np.einsum("ij,jk,ik->i", X_all, cov, X_all) + s2
    hyper = {"terms": list(terms), "weights": beta.tolist(), "excess_var": s2}
    return FitResult(_shaped(X_all @ beta, x_all), _shaped(variance, x_all), float("nan"), hyper)


# ----------------------------------------------------------------------- ridge


def ridge_weights(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Closed-form ridge weights ``(X^T X + alpha I)^-1 X^T y`` (every weight penalised)."""
    A = X.T @ X + alpha * np.eye(X.shape[1])
    return linalg.solve(A, X.T @ y, assume_a="pos")


def ridge_log_evidence(X: np.ndarray, y: np.ndarray, alpha: float, sigma2: float) -> float:
    """log N(y | 0, sigma2 (I + X X^T / alpha)): y = X w + N(0, sigma2), w ~ N(0, sigma2/alpha).

    Computed through the p x p posterior precision ``A = X^T X + alpha I``.
    """
    n, p = X.shape
    A = X.T @ X + alpha * np.eye(p)
    chol = linalg.cho_factor(A)
    w = linalg.cho_solve(chol, X.T @ y)
    rss = float(np.sum((y - X @ w) ** 2))
    logdet_A = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
    return float(
        -0.5 * n * np.log(2.0 * np.pi * sigma2)
        + 0.5 * p * np.log(alpha)
        - 0.5 * logdet_A
        - (rss + alpha * float(w @ w)) / (2.0 * sigma2)
    )


def ridge_cv_alpha(X: np.ndarray, y: np.ndarray, alphas=RIDGE_ALPHAS) -> float:
    """The penalty of ``alphas`` with the least leave-one-out squared error (sklearn RidgeCV)."""
    from sklearn.linear_model import RidgeCV

    return float(RidgeCV(alphas=np.asarray(alphas), fit_intercept=False).fit(X, y).alpha_)


def fit_ridge(
    x, y, noise_var, x_all, *, degree: int = 3, alpha: float | str = 1e-3, terms=None,
    inputs=OMEGA,
) -> FitResult:
    """Ridge on a feature expansion, read as Bayesian linear regression.

    Model: ``y = X w + e``, ``e ~ N(0, sigma2 I)``, prior ``w ~ N(0, sigma2/alpha I)``,
    so the posterior mean is the ridge solution and its covariance
    ``sigma2 (X^T X + alpha I)^-1``.  ``sigma2`` is the residual variance
    ``RSS / (m - dof)`` (``dof`` = trace of the hat matrix), floored by the mean
    known noise variance; the part above that floor is unexplained scatter and
    is added to the predictive variance.  ``terms`` (feature names) replace the
    polynomial of ``degree``; ``alpha="cv"`` picks it by leave-one-out CV.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    noise_var = np.asarray(noise_var, dtype=float)
    X = poly_features(x, degree) if terms is None else design_matrix(x, terms, inputs)
    alpha = ridge_cv_alpha(X, y) if alpha == "cv" else float(alpha)
    A = X.T @ X + alpha * np.eye(X.shape[1])
    chol = linalg.cho_factor(A)
    w = linalg.cho_solve(chol, X.T @ y)
    rss = float(np.sum((y - X @ w) ** 2))
    dof = float(np.trace(linalg.cho_solve(chol, X.T @ X)))
    known = float(np.mean(noise_var))
    # With (almost) no degrees of freedom left the residuals say nothing about
    # the noise; fall back on the known noise alone.
    fitted = rss / (y.size - dof) if y.size - dof > 0.5 else 0.0
    sigma2 = max(fitted, known, _floor(y))
    excess = max(sigma2 - known, 0.0)

    flat = _rows(x_all, inputs)
    X_all = poly_features(flat, degree) if terms is None else design_matrix(flat, terms, inputs)
    mean = X_all @ w
    variance = sigma2 * np.sum(X_all * linalg.cho_solve(chol, X_all.T).T, axis=1) + excess
    hyper = {
        "degree": int(degree) if terms is None else None,
        "terms": list(terms) if terms is not None else None,
        "alpha": alpha,
        "sigma2": sigma2,
        "excess_var": excess,
        "dof": dof,
        "weights": w.tolist(),
    }
    return FitResult(
        _shaped(mean, x_all),
        _shaped(variance, x_all),
        ridge_log_evidence(X, y, alpha, sigma2),
        hyper,
    )


# ----------------------------------------------------------------------- lasso


def fit_lasso(
    x, y, noise_var, x_all, terms: Sequence[str], alpha: float | str = "cv", inputs=OMEGA
):
    """Lasso (L1) on the standardised non-constant features, intercept unpenalised.

    ``alpha`` is sklearn's penalty for the residual in units of its standard
    deviation, or ``"cv"``: chosen by leave-one-out CV (``LassoCV``; ten-fold
    above 50 points).  The
    variance treats the fit as OLS on the selected features (the lasso's degrees
    of freedom are their number, Zou, Hastie and Tibshirani, Ann. Stat. 35
    (2007)): ``s2 a*^T (A^T A)^-1 a*`` plus the excess of ``s2 = RSS / (m - k)``
    over the mean known noise, ``A`` the intercept and selected columns.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso, LassoCV
    from sklearn.model_selection import KFold, LeaveOneOut

    y = np.asarray(y, dtype=float)
    X = design_matrix(x, [t for t in terms if t != "1"], inputs)
    centre, spread = X.mean(axis=0), X.std(axis=0)
    spread[spread == 0] = 1.0
    Z = (X - centre) / spread
    scale = float(np.std(y)) or float(np.sqrt(max(np.mean(noise_var), _floor(y))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if alpha == "cv":
            # leave-one-out on few points; ten folds where m refits would cost too much
            folds = LeaveOneOut() if y.size <= 50 else KFold(10, shuffle=True, random_state=0)
            model = LassoCV(cv=folds, max_iter=200_000, tol=1e-8).fit(Z, y / scale)
        else:
            model = Lasso(alpha=float(alpha), max_iter=200_000, tol=1e-8).fit(Z, y / scale)
    chosen = float(model.alpha_ if alpha == "cv" else alpha)
    active = np.flatnonzero(model.coef_ != 0)

    def predict(points):
        Zp = (design_matrix(points, [t for t in terms if t != "1"], inputs) - centre) / spread
        return scale * model.predict(Zp), np.column_stack([np.ones(Zp.shape[0]), Zp[:, active]])

    fitted, A = predict(_rows(x, inputs))
    k = A.shape[1]
    rss = float(np.sum((y - fitted) ** 2))
    known = float(np.mean(noise_var))
    sigma2 = max(rss / (y.size - k) if y.size > k else 0.0, known, _floor(y))
    mean, A_all = predict(_rows(x_all, inputs))
    leverage = np.einsum("ij,jk,ik->i", A_all, linalg.pinvh(A.T @ A), A_all)
    variance = sigma2 * leverage + max(sigma2 - known, 0.0)
    hyper = {
        "terms": list(terms),
        "alpha": chosen,
        "selected": [t for i, t in enumerate(t for t in terms if t != "1") if i in set(active)],
        "sigma2": sigma2,
        "excess_var": max(sigma2 - known, 0.0),
    }
    return FitResult(_shaped(mean, x_all), _shaped(variance, x_all), float("nan"), hyper)
