"""Figures of the report: optimisation traces, E(omega) with the BMA band, model weights.

Each function takes plain arrays and a path, draws one PNG and returns nothing;
matplotlib runs headless (Agg).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def optimization_traces(
    traces: Mapping[str, Sequence[tuple[float, np.ndarray, float]]],
    path: str | os.PathLike,
    reference: str = "exact",
) -> None:
    """One panel per ansatz: |E(step) - E_exact| for each point, on a log scale.

    ``traces[ansatz]`` is a list of ``(omega, energy_per_step, exact_energy)``;
    ``reference`` names what the exact energies are.
    """
    names = list(traces)
    fig, axes = plt.subplots(
        1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False, sharey=True
    )
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], names, strict=True):
        rows = sorted(traces[name], key=lambda r: r[0])
        omegas = [r[0] for r in rows]
        lo, hi = min(omegas), max(omegas)
        for omega, energy, exact in rows:
            colour = cmap((omega - lo) / (hi - lo) if hi > lo else 0.5)
            error = np.abs(np.asarray(energy) - exact) + 1e-7
            ax.semilogy(error, color=colour, lw=0.8, label=f"{omega:g}")
        ax.set_title(name)
        ax.set_xlabel("optimisation step")
    axes[0][0].set_ylabel(rf"$|E - E_\mathrm{{{reference.split()[0]}}}|$")
    axes[0][-1].legend(title=r"$\omega$", fontsize=6, title_fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def energies_with_band(
    omega: np.ndarray,
    exact: np.ndarray,
    bma_mean: np.ndarray,
    bma_std: np.ndarray,
    theory: Mapping[str, tuple[np.ndarray, np.ndarray]],
    roles: np.ndarray,
    path: str | os.PathLike,
    exact_curve: tuple[np.ndarray, np.ndarray] | None = None,
    groups: Mapping[str, np.ndarray] | None = None,
    reference: str = "exact",
) -> None:
    """E(omega): exact curve and BMA; below it, deviations from exact with the 2-sigma band.

    ``theory[ansatz] = (energy, error)`` are the raw VMC values at the points.
    ``groups`` (``{title: boolean mask}``) draws one column per group of points,
    e.g. per particle number; ``reference`` names what ``exact`` holds.
    """
    groups = groups or {"": np.ones(omega.size, dtype=bool)}
    fig, axes = plt.subplots(
        2, len(groups), figsize=(6.4 * len(groups), 6.4), sharex="col", squeeze=False,
        gridspec_kw={"height_ratios": [1, 1.3]},
    )  # fmt: skip
    for (title, mask), top, bottom in zip(groups.items(), axes[0], axes[1], strict=True):
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(omega[idx])]
        _energy_panels(
            top, bottom, omega[idx], exact[idx], bma_mean[idx], bma_std[idx],
            {name: (np.asarray(e)[idx], np.asarray(de)[idx]) for name, (e, de) in theory.items()},
            roles[idx], exact_curve if len(groups) == 1 else None, reference,
        )  # fmt: skip
        top.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _energy_panels(top, bottom, omega, exact, bma_mean, bma_std, theory, roles, curve, label):
    if curve is not None:
        top.plot(*curve, color="k", lw=1, label=label)
    else:
        top.plot(omega, exact, "o-" if omega.size < 8 else "-", color="k", lw=1, ms=3,
                 label=label)  # fmt: skip
    top.errorbar(omega, bma_mean, 2 * bma_std, fmt="o", ms=3, color="C3", label="BMA")
    top.set_ylabel(r"$E$ (a.u.)")
    top.legend()

    bottom.axhline(0.0, color="k", lw=1)
    bottom.fill_between(
        omega, -2 * bma_std + bma_mean - exact, 2 * bma_std + bma_mean - exact,
        color="C3", alpha=0.25, label=r"BMA $\pm 2\sigma$",
    )
    bottom.plot(omega, bma_mean - exact, "o-", color="C3", ms=3, lw=1)
    for k, (name, (energy, error)) in enumerate(theory.items()):
        bottom.errorbar(
            omega, energy - exact, error, fmt="x", ms=4, color=f"C{k}", label=f"VMC {name}"
        )
    for role, marker in (("train", "|"), ("test", "^"), ("target", "*")):
        mask = roles == role
        bottom.plot(
            omega[mask], np.zeros(mask.sum()), marker, color="0.3", ms=8, ls="none", label=role
        )
    bottom.set_yscale("symlog", linthresh=1e-4)
    bottom.set_xlabel(r"trap frequency $\omega$")
    bottom.set_ylabel(rf"$E - E_\mathrm{{{label.split()[0]}}}$")
    bottom.legend(fontsize=7, ncol=2)


def model_weights(names: Sequence[str], weights: np.ndarray, path: str | os.PathLike) -> None:
    """Bar chart of the BMA weights."""
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(names), 3.2))
    ax.bar(range(len(names)), weights, color="C0")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("BMA weight")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def calibration(
    names: Sequence[str],
    standardized: np.ndarray,
    coverage: Mapping[str, np.ndarray],
    path: str | os.PathLike,
) -> None:
    """Standardised errors ``(prediction - exact) / sigma`` at the target points, one row per model.

    ``standardized`` has shape ``(M, n)`` (the last row may be the BMA);
    ``coverage`` maps a label (``"68 %"``) to the ``(M,)`` fractions printed
    at the right.  The shaded bands are |z| < 1 and |z| < 1.96.
    """
    z = np.atleast_2d(standardized)
    rows = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.38 * len(names)))
    ax.axvspan(-1.96, 1.96, color="0.92", zorder=0)
    ax.axvspan(-1.0, 1.0, color="0.82", zorder=0)
    ax.axvline(0.0, color="k", lw=0.8)
    for k in rows:
        colour = "C3" if names[k] == "BMA" else "C0"
        ax.plot(z[k], np.full(z.shape[1], k), "o", ms=4, color=colour, alpha=0.8)
    limit = max(3.0, float(np.nanmax(np.abs(z))) * 1.05) if z.size else 3.0
    ax.set_xlim(-limit, limit)
    ax.set_yticks(rows, names, fontsize=8)
    ax.invert_yaxis()
    for k in rows:
        text = "  ".join(f"{label} {values[k]:.2f}" for label, values in coverage.items())
        ax.annotate(text, (1.01, k), xycoords=("axes fraction", "data"), va="center", fontsize=7)
    ax.set_xlabel(r"$(E_\mathrm{pred} - E_\mathrm{exact}) / \sigma$ at the target points")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _chart_grid(Z, N, values):
    """Cell edges along N and Z and a ``(Z, N)`` image of ``values`` (NaN off the points)."""
    Z, N = np.asarray(Z, dtype=int), np.asarray(N, dtype=int)
    image = np.full((Z.max() - Z.min() + 1, N.max() - N.min() + 1), np.nan)
    image[Z - Z.min(), N - N.min()] = values
    return np.arange(N.min(), N.max() + 2) - 0.5, np.arange(Z.min(), Z.max() + 2) - 0.5, image


def chart_residuals(
    Z: np.ndarray,
    N: np.ndarray,
    residuals: Mapping[str, np.ndarray],
    roles: np.ndarray,
    path: str | os.PathLike,
    limit: float = 3.0,
) -> None:
    """One nuclear chart (N across, Z up) per model, coloured by its residual (MeV).

    Colours saturate at ``limit``; held-out nuclei (roles test and target) are ringed.
    """
    names = list(residuals)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.7 * rows), squeeze=False,
                             sharex=True, sharey=True)  # fmt: skip
    held = np.isin(roles, ("test", "target"))
    for ax, name in zip(axes.flat, names, strict=False):
        r = np.asarray(residuals[name])
        image = ax.pcolormesh(*_chart_grid(Z, N, r), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.scatter(N[held], Z[held], s=8, facecolors="none", edgecolors="k", linewidths=0.3)
        ok = np.isfinite(r)
        ax.set_title(f"{name}  rms {np.sqrt(np.mean(r[ok] ** 2)):.2f}", fontsize=8)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("N")
    for ax in axes[:, 0]:
        ax.set_ylabel("Z")
    fig.colorbar(image, ax=axes, shrink=0.8, label=r"$S_{2n}^{\rm exp} - S_{2n}$ (MeV)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def chart_probability(
    Z: np.ndarray,
    N: np.ndarray,
    p: np.ndarray,
    observed: np.ndarray,
    drip: Mapping[int, Mapping],
    path: str | os.PathLike,
) -> None:
    """p(S2n > 0) over the nuclear chart, the nuclei with a measured S2n outlined, and the
    drip line (p = 0.5, ``drip[z]["levels"][0.5]``) with its 0.84-0.16 range."""
    fig, ax = plt.subplots(figsize=(9.0, 5.6))
    image = ax.pcolormesh(*_chart_grid(Z, N, p), cmap="viridis", vmin=0, vmax=1)
    # the measured region's outline: the edge of its indicator image
    edges_n, edges_z, known = _chart_grid(Z, N, np.asarray(observed, dtype=float))
    ax.contour(0.5 * (edges_n[1:] + edges_n[:-1]), 0.5 * (edges_z[1:] + edges_z[:-1]),
               np.nan_to_num(known), levels=[0.5], colors="w", linewidths=0.6)  # fmt: skip
    ax.plot([], [], color="w", lw=0.6, label="S2n measured (edge)")
    zs = sorted(drip)
    if zs:
        def line(level):
            return np.array([np.nan if drip[z]["levels"][level] is None
                             else drip[z]["levels"][level] for z in zs], dtype=float)  # fmt: skip

        ax.fill_betweenx(zs, line(0.84), line(0.16), step="mid", color="C3", alpha=0.3,
                         label=r"$p$ from 0.84 to 0.16")  # fmt: skip
        ax.step(line(0.5), zs, where="mid", color="C3", lw=1.2, label="drip line, $p = 0.5$")
    ax.set_xlabel("N")
    ax.set_ylabel("Z")
    ax.legend(loc="upper left", fontsize=8, facecolor="0.75")
    fig.colorbar(image, ax=ax, label=r"$p(S_{2n} > 0)$")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
