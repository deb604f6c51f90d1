"""Study configs and VMC run specs: loading, schema validation, and the study's points.

A study config (``config/config.yaml``) describes the whole DAG; a run spec is
the self-contained YAML of one VMC run, written from the study by
:func:`runspec_for`.  Both are checked against JSON schemas shipped in
``nqsflow/schemas``; a violation raises :class:`ConfigError` with one line that
names the key and the rule it breaks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from nqsflow.errors import ConfigError
from nqsflow.registry import kinds_schema

ROLES = ("train", "test", "target")


@cache
def _schemas() -> dict[str, dict]:
    folder = resources.files("nqsflow") / "schemas"
    schemas = {
        name: json.loads((folder / f"{name}.schema.json").read_text())
        for name in ("study", "runspec")
    }
    schemas["runspec"]["$defs"]["factor"] = _factor_schema()
    # kinds declare their own keys, so the schema and the code cannot disagree
    from nqsflow.fit.models import method_schema
    from nqsflow.theory.kinds import theory_schema

    schemas["study"]["$defs"]["fit_method"] = method_schema()
    schemas["study"]["$defs"]["theory"] = theory_schema()
    schemas["study_slice"] = {**schemas["study"], "required": [], "allOf": []}
    schemas["study_slice"]["properties"] = {
        **schemas["study"]["properties"],
        "theory": {"type": "object", "description": "one theory of a study, by name"},
    }
    return schemas


def _factor_schema() -> dict:
    # each ansatz factor declares its own options, so a new factor is one class
    from nqsflow.vmc.wavefunctions import FACTORS

    return kinds_schema(FACTORS.values())


def _validator(kind: str) -> jsonschema.protocols.Validator:
    schemas = _schemas()
    registry = Registry().with_resources(
        (f"{name}.schema.json", Resource.from_contents(schema))
        for name, schema in schemas.items()
    )
    cls = jsonschema.validators.validator_for(schemas[kind])
    return cls(schemas[kind], registry=registry)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _matching_branch(errors: list) -> list:
    wrong_kind = {
        e.relative_schema_path[0]
        for e in errors
        if e.validator == "const" and list(e.relative_path)[-1:] == ["kind"]
    }
    return [e for e in errors if e.relative_schema_path[0] not in wrong_kind]


def _in_branch(error: jsonschema.ValidationError) -> str | None:
    """``"then"`` or ``"else"`` when ``error`` comes from a branch of an ``if``, else None."""
    return next((p for p in error.absolute_schema_path if p in ("then", "else")), None)


def _relevance(error: jsonschema.ValidationError):
    # a branch of an `if` only follows from the other keys: a missing or wrong key
    # itself is the better message ('interaction' missing, not 'radius' then required)
    return (_in_branch(error) is None, *jsonschema.exceptions.relevance(error))


def _consts(schema: Mapping[str, Any], path: list) -> list[tuple[str, Any]]:
    """The ``(key, value)`` pairs an ``if`` schema tests with ``const``."""
    found = []
    for key, sub in schema.get("properties", {}).items():
        if "const" in sub:
            found.append((".".join(map(str, [*path, key])), sub["const"]))
        found += _consts(sub, [*path, key])
    return found


def _condition(schema: Mapping[str, Any], error: jsonschema.ValidationError) -> str:
    """`` where <key> is <value>``: the test of the ``if`` whose branch ``error`` is in."""
    branch = _in_branch(error)
    if branch is None:
        return ""
    parts = list(error.absolute_schema_path)
    node = schema
    for part in parts[: parts.index(branch)]:
        if part == "$ref" or not isinstance(node, (Mapping, list)):
            return ""  # the test sits in another schema: no hint
        node = node[part]
    tests = _consts(node.get("if", {}), list(error.absolute_path))
    verb, joint = ("is", " and ") if branch == "then" else ("is not", " or ")
    return (" where " + joint.join(f"{k} {verb} {v!r}" for k, v in tests)) if tests else ""


def validate(document: Mapping[str, Any], kind: str, source: str = "config") -> None:
    """Check ``document`` against the ``study``, ``study_slice`` or ``runspec`` schema.

    Raises :class:`ConfigError` for the first (most specific) violation.
    """
    errors = list(_validator(kind).iter_errors(document))
    if not errors:
        return
    # best_match would descend into a oneOf by itself, before the branches of another
    # kind are set aside below (a bad mass table named the liquid drop's 'kind')
    error = max(errors, key=_relevance)
    # oneOf failures hide the useful message in a sub-error: pick the deepest,
    # ignoring the branches whose 'kind' does not match.
    while error.context:
        if isinstance(error.instance, dict) and "kind" not in error.instance and any(
            e.validator == "required" and "'kind'" in e.message for e in error.context
        ):
            branches = error.validator_value if isinstance(error.validator_value, list) else []
            kinds = sorted(
                str(b.get("properties", {}).get("kind", {}).get("const")) for b in branches
            )
            raise ConfigError(f"{source}: key '{_key_path(error)}.kind': missing; one of {kinds}")
        branch = _matching_branch(error.context)
        if not branch:  # no branch has this kind
            kinds = sorted(e.validator_value for e in error.context if e.validator == "const")
            kind = error.instance.get("kind") if isinstance(error.instance, dict) else None
            raise ConfigError(
                f"{source}: key '{_key_path(error)}.kind': {kind!r} is not one of {kinds}"
            )
        # as best_match descends: the alternative that fits the value's type, the deepest
        error = min(branch, key=jsonschema.exceptions.relevance)
    where = _condition(_schemas()[kind], error)
    raise ConfigError(f"{source}: key '{_key_path(error)}': {error.message}{where}")


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping, turning I/O and syntax problems into :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_study(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a study config."""
    config = load_yaml(path)
    check_study(config, source=str(path))
    return config


def check_study(config: Mapping[str, Any], source: str = "config") -> None:
    """Validate a study config: schema first, then rules a schema cannot say."""
    validate(config, "study", source)
    from nqsflow.theory.kinds import THEORIES, theory_specs

    try:
        _check_numbers(config)
        theory_specs(config)
        for name, spec in config.get("theories", {}).items():
            THEORIES[spec["kind"]].check(name, spec)
        if is_mass_study(config):
            _check_ranges(config, ("data", "Z"), ("report", "drip_Z"))
            _check_fit_methods(config, ("Z", "N"))
            return
        # late: nqsflow.data imports this module
        from nqsflow.data.design import resolve_design
        from nqsflow.data.generate import check_exact_source

        check_exact_source(config)
        resolve_design(config)
        _check_fit_methods(config, point_inputs(config))
        _check_vmc_section(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check_numbers(config: Mapping[str, Any]) -> None:
    # the run specs' rule for every real number of the study (a trap frequency of 1e300
    # would pass here and stop its VMC job)
    for key, value in _numbers(config):
        if not abs(value) <= MAX_REAL:  # also nan and inf, which YAML can spell
            raise ConfigError(
                f"key '{key}': {value!r} is not a finite number of at most {MAX_REAL:g}"
            )


def _check_ranges(config: Mapping[str, Any], *paths: tuple[str, str]) -> None:
    # {min, max} ranges of proton numbers: an empty one leaves nothing to do
    for section, name in paths:
        bounds = config.get(section, {}).get(name, {})
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise ConfigError(
                f"key '{section}.{name}': min {bounds['min']} is above max {bounds['max']}"
            )


def _check_fit_methods(config: Mapping[str, Any], inputs: tuple[str, ...]) -> None:
    # what the fit stage checks of its method (features, degree, alpha), before any work
    from nqsflow.fit.models import resolve_method

    for name, method in config["fit"]["methods"].items():
        try:
            resolve_method(method, inputs)
        except ConfigError as exc:
            raise ConfigError(_at_key(f"fit.methods.{name}", str(exc))) from None


def _at_key(key: str, message: str) -> str:
    """``message`` of a fit method's check, at ``key`` (its ``features`` when it says so)."""
    if message.startswith("features: "):
        key, message = f"{key}.features", message.removeprefix("features: ")
    return f"key '{key}': {message}"


def _check_vmc_section(config: Mapping[str, Any]) -> None:
    # the rules between keys of a run spec, once per ansatz, before any work starts
    # (the schema has checked each key; the run specs differ only in their point)
    ansatze = config.get("vmc", {}).get("ansatze", {})
    points = study_points(config) if ansatze else []
    # one point per particle number (closed shells, memory); the frequencies differ only
    # in a bound that _check_numbers applies
    firsts: dict[int | None, Point] = {}
    for point in points:
        firsts.setdefault(point.particles, point)
    for name, point in ((a, p) for a in ansatze for p in firsts.values()):
        try:
            check_runspec(runspec_for(config, name, point.name), "run spec")
        except ConfigError as exc:
            # name the key where the study spells it
            message = str(exc).removeprefix("run spec: ")
            for section in ("ansatz", "sampler", "optimizer", "production"):
                where = f"vmc.ansatze.{name}" if section == "ansatz" else f"vmc.{section}"
                message = message.replace(f"key '{section}", f"key '{where}", 1)
            raise ConfigError(message) from None


def is_mass_study(config: Mapping[str, Any]) -> bool:
    """Whether the study observes nuclear masses (``data.source: masses``)."""
    return config.get("data", {}).get("source") == "masses"


def load_slice(path: str | os.PathLike) -> dict[str, Any]:
    """Load a stage's slice of a study config (:mod:`nqsflow.workflow`), or a whole study.

    A slice holds only the sections its stage reads; they are checked against
    the study schema, required sections aside.
    """
    config = load_yaml(path)
    if {"study", "seed", "fit", "bma"} <= config.keys():
        check_study(config, source=str(path))
    else:
        validate(config, "study_slice", str(path))
    return config


def load_runspec(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a VMC run spec."""
    spec = load_yaml(path)
    check_runspec(spec, str(path))
    return spec


# a real number beyond this, in oscillator units, is a typo (and overflows exp(-alpha r^2))
MAX_REAL = 1e10


def leaves(node, path=()):
    """(path, value) of every leaf of nested mappings and lists; a path is a tuple of
    keys and list indices."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))
    else:
        yield path, node


def _numbers(node):
    # the real numbers of a config, by dotted key
    for path, value in leaves(node):
        if isinstance(value, float):
            yield ".".join(map(str, path)), value


def check_runspec(spec: Mapping[str, Any], source: str = "run spec") -> None:
    """Validate a run spec: its schema, then the rules between keys a schema cannot say."""
    validate(spec, "runspec", source)
    for key, value in _numbers(spec):
        if not abs(value) <= MAX_REAL:  # also nan and inf, which YAML can spell
            raise ConfigError(
                f"{source}: key '{key}': {value!r} is not a finite number of at most {MAX_REAL:g}"
            )
    # late, as in _factor_schema: importing nqsflow.vmc loads the whole VMC package
    from nqsflow.vmc.runspec import with_defaults

    sampler = with_defaults(spec["sampler"], "sampler")
    walkers, block = sampler["walkers"], sampler.get("block_size")
    if block is not None and walkers % block:
        raise ConfigError(
            f"{source}: key 'sampler.block_size': {block} does not divide sampler.walkers "
            f"({walkers}, the walkers per rank); choose a divisor of it"
        )


def run_bytes(spec: Mapping[str, Any], ranks: int = 1) -> float:
    """A rough upper estimate of one rank's memory for a run spec, in bytes.

    Positions and pair vectors of the walkers and of one step's samples, their
    parameter derivatives O (P per sample; P guessed as particles x dim x the
    ansatz's widths), the SR matrix, the per-sample production energies, and the
    optimisation history (per step a few numbers and the parameters).
    """
    from nqsflow.vmc.runspec import with_defaults

    system = spec["system"]
    sampler, optimizer = (with_defaults(spec[k], k) for k in ("sampler", "optimizer"))
    production = with_defaults(spec["production"], "production")
    n, d = system["particles"], system["dim"]
    walkers = sampler["walkers"]
    samples = max(-(-optimizer["samples"] // ranks), walkers)
    width = 1
    for factor in spec["ansatz"]:
        for value in factor.values():
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                width += value
            elif isinstance(value, list):
                width += sum(v for v in value if isinstance(v, int))
    params = n * d * width
    per_sample = n * d + n * n * d + params
    metric = params * params if optimizer["kind"] == "sr" else 0
    # a step's history is ~500 bytes of Python floats and lists plus the parameters,
    # copied to arrays for the artifact and its in-memory file (measured: 550 bytes
    # per step in lists at P = 16)
    history = optimizer["steps"] * (64 + 4 * params)
    per_rank = -(-production["samples"] // ranks)
    return 8.0 * (
        4 * walkers * per_sample + samples * per_sample + metric + per_rank
        + 4 * production["bins"] + history
    )


def _sizes(spec) -> list[tuple[str, list]]:
    # the keys run_bytes grows with, and where each sits in the spec
    keys = [("system.particles", ["system", "particles"]),
            ("sampler.walkers", ["sampler", "walkers"]),
            ("optimizer.samples", ["optimizer", "samples"]),
            ("optimizer.steps", ["optimizer", "steps"]),
            ("production.samples", ["production", "samples"]),
            ("production.bins", ["production", "bins"])]  # fmt: skip
    for i, factor in enumerate(spec["ansatz"]):
        for key, value in factor.items():
            if isinstance(value, (int, list)) and not isinstance(value, bool):
                keys.append((f"ansatz.{i}.{key}", ["ansatz", i, key]))
    return keys


def check_memory(
    spec: Mapping[str, Any], ranks: int = 1, available: float | None = None,
    source: str = "run spec",
) -> None:  # fmt: skip
    """Refuse a run that cannot fit in memory (default: this machine's), naming the key.

    The key named is the one whose reduction to 1 shrinks :func:`run_bytes` the most.
    """
    if available is None:
        available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    need = run_bytes(spec, ranks)
    if need <= available:
        return
    import copy

    best, smallest = None, need
    for key, where in _sizes(spec):
        trial = copy.deepcopy(dict(spec))
        node = trial
        for part in where[:-1]:
            node = node[part]
        if where[-1] not in node:
            continue
        node[where[-1]] = [1] if isinstance(node[where[-1]], list) else 1
        if run_bytes(trial, ranks) < smallest:
            best, smallest = key, run_bytes(trial, ranks)
    raise ConfigError(
        f"{source}: key '{best}': the run needs about {need / 2**30:.3g} GiB per rank, more "
        f"than the {available / 2**30:.3g} GiB of this machine; make it smaller"
    )


def point_name(omega: float, particles: int | None = None) -> str:
    """File-name-safe label of a point: ``omega0.35``, or ``n6-omega0.35`` with particles."""
    label = f"omega{float(omega):g}"
    return label if particles is None else f"n{int(particles)}-{label}"


@dataclass(frozen=True)
class Point:
    """One parameter point of the study (``particles`` when the study varies them)."""

    name: str
    omega: float
    role: str
    particles: int | None = None


def study_particles(config: Mapping[str, Any]) -> list[int] | None:
    """The particle numbers of a study whose ``system.particles`` is a list, else ``None``."""
    particles = config["system"]["particles"]
    return [int(n) for n in particles] if isinstance(particles, list) else None


def point_inputs(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of a point's inputs: ``("omega",)``, or ``("particles", "omega")``."""
    return ("omega",) if study_particles(config) is None else ("particles", "omega")


def study_points(config: Mapping[str, Any]) -> list[Point]:
    """All points of a study, sorted by particle number and omega (:mod:`nqsflow.data.design`).

    With a list of particle numbers every number is paired with every omega of
    the design, the pair taking the omega's role.
    """
    from nqsflow.data.design import resolve_design

    design = resolve_design(config)
    numbers = study_particles(config) or [None]
    points = [
        Point(point_name(omega, n), omega, role, n)
        for n in numbers
        for role in ROLES
        for omega in design[role]
    ]
    return sorted(points, key=lambda p: (p.particles or 0, p.omega))


def point_by_name(config: Mapping[str, Any], name: str) -> Point:
    """The study point labelled ``name``; :class:`ConfigError` if there is none."""
    for point in study_points(config):
        if point.name == name:
            return point
    raise ConfigError(f"no point named {name!r} in the study design")


def runspec_for(config: Mapping[str, Any], ansatz: str, point: str) -> dict[str, Any]:
    """The self-contained VMC run spec of one ansatz at one point of the study.

    The seed is derived from the study seed, the ansatz and the point, so each
    run has its own stream and the same study reproduces the same runs.
    """
    vmc = config["vmc"]
    if ansatz not in vmc["ansatze"]:
        raise ConfigError(f"no ansatz named {ansatz!r} under vmc.ansatze")
    p = point_by_name(config, point)
    system = config["system"]
    return {
        "system": {
            "particles": p.particles or system["particles"],
            "dim": system["dim"],
            "omega": p.omega,
            "interaction": system["interaction"],
            **({"radius": system["radius"]} if "radius" in system else {}),
        },
        "ansatz": [dict(c) for c in vmc["ansatze"][ansatz]],
        "sampler": dict(vmc["sampler"]),
        "optimizer": dict(vmc["optimizer"]),
        "production": dict(vmc["production"]),
        "seed": derived_seed(config["seed"], ansatz, point),
    }


def derived_seed(seed: int, *labels: str) -> int:
    """A 63-bit seed fixed by ``seed`` and the labels (stable across Python runs)."""
    import hashlib

    text = ":".join([str(seed), *labels]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1
