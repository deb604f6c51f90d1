"""VMC as a theory: the production energies of one ansatz at every point, gathered.

A point's inputs are ``omega`` or ``(particles, omega)``; each VMC artifact
names both in its run spec's ``system``.
"""

from __future__ import annotations

import numpy as np

from nqsflow.artifacts import ATTRS, config_of, read_artifact
from nqsflow.errors import ArtifactError
from nqsflow.theory.kinds import TheoryKind


class VMC(TheoryKind):
    """Gathers the VMC artifacts of one ansatz (one per point of omega, or of particles
    and omega)."""

    kind = "vmc"
    needs_vmc = True
    options = {"ansatz": {"type": "array", "description": "the ansatz's factors"}}

    @classmethod
    def predict(cls, name, spec, reference, vmc_paths):
        points = reference.points
        if points.inputs not in INPUTS:
            raise ArtifactError(
                reference.path,
                f"VMC theories need points of {' or '.join(map(str, map(list, INPUTS)))}, "
                f"not {list(points.inputs)}",
            )
        energy, error = gather(points.x, points.inputs, points.name, spec.get("ansatz"), name,
                               vmc_paths, reference.path)  # fmt: skip
        return energy, error, {"runs": len(vmc_paths)}


INPUTS = (("omega",), ("particles", "omega"))


def gather(x, inputs, names, factors, ansatz: str, vmc_paths, reference_path):
    """VMC energies and error bars, ``(n,)`` each, in the order of the points ``x``
    (``(n, k)``, inputs named ``inputs``).

    Every point needs exactly one artifact, of the ansatz with these ``factors``
    (their kinds are compared when given).
    """
    x = np.asarray(x, dtype=float).reshape(len(names), len(inputs))
    energy = np.full(len(names), np.nan)
    error = np.full(len(names), np.nan)
    source: dict[int, str] = {}
    wanted_kinds = [c["kind"] for c in factors] if factors is not None else None
    for path in vmc_paths:
        tree = read_artifact(path, schema="nqsflow.vmc")
        spec = config_of(tree)
        try:
            at = np.array([float(spec["system"][name]) for name in inputs])
            est = tree["estimate"][ATTRS]
            e, de = float(est["energy"]), float(est["energy_error"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(
                path, f"has no VMC estimate or {'/'.join(inputs)} ({exc!r} missing)"
            ) from None
        kinds = [c.get("kind") for c in spec.get("ansatz", [])] if "ansatz" in spec else None
        if kinds is not None and wanted_kinds is not None and kinds != wanted_kinds:
            raise ArtifactError(
                path, f"is a run of ansatz {kinds}, not of {ansatz!r} ({wanted_kinds})"
            )
        hit = np.flatnonzero(np.all(np.isclose(x, at, rtol=1e-12, atol=0.0), axis=1))
        where = ", ".join(f"{name}={v:g}" for name, v in zip(inputs, at, strict=True))
        if hit.size == 0:
            raise ArtifactError(path, f"{where} is not a point of the study design")
        i = int(hit[0])
        if i in source:
            raise ArtifactError(path, f"point {names[i]} already comes from {source[i]}")
        if not (np.isfinite(e) and np.isfinite(de) and de >= 0):
            raise ArtifactError(path, f"energy={e!r}, energy_error={de!r} are not usable")
        energy[i], error[i], source[i] = e, de, str(path)
    missing = [str(names[i]) for i in range(len(names)) if i not in source]
    if missing:
        raise ArtifactError(
            reference_path,
            f"point(s) {', '.join(missing)} have no VMC file for ansatz {ansatz!r} "
            "among the inputs; run the VMC stage for them",
        )
    return energy, error
