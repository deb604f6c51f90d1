"""Tabulated literature energies: the ``table`` data source.

A table is a CSV file (``#`` lines are comments) with the columns of
:data:`COLUMNS`, one row per state: ``energy`` and its one-sigma ``error`` in
hartree, ``m`` the relative angular momentum, ``method`` and ``citation`` the
source.  The package ships ``tables/literature.csv`` (name ``"literature"``);
``data.table`` may instead name a CSV file of the same layout.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from nqsflow.errors import ConfigError

COLUMNS = (
    "system", "particles", "dim", "interaction", "m", "omega", "energy", "error", "method",
    "citation",
)  # fmt: skip
DEFAULT_TABLE = "literature"


@dataclass(frozen=True)
class TableRow:
    """One tabulated state (energies in hartree)."""

    system: str
    particles: int
    dim: int
    interaction: str
    m: int
    omega: float
    energy: float
    error: float
    method: str
    citation: str


@cache
def load_table(name: str = DEFAULT_TABLE) -> tuple[TableRow, ...]:
    """The rows of a shipped table (``name`` without suffix) or of a CSV file ``name``.

    Raises :class:`ConfigError` naming the file and row when a value is missing
    or not a number, or an energy error is negative.
    """
    if name.endswith(".csv"):
        path = Path(name)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"key 'data.table': cannot read {path} ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"key 'data.table': {path} is not UTF-8 text ({exc.reason})"
            ) from None
    else:
        resource = resources.files("nqsflow") / "data" / "tables" / f"{name}.csv"
        if not resource.is_file():
            raise ConfigError(f"key 'data.table': no shipped table named {name!r}")
        text, path = resource.read_text(), Path(str(resource))
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = [str(c).strip() for c in reader.fieldnames or ()]
    missing = set(COLUMNS) - set(header)
    if missing:
        raise ConfigError(f"{path}: table lacks column(s) {sorted(missing)}")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise ConfigError(
            f"{path}: unknown or repeated column(s) {unknown or header}; the columns are "
            f"{list(COLUMNS)}"
        )
    reader.fieldnames = header
    rows, seen = [], {}
    for number, raw in enumerate(reader, start=1):
        where = f"{path}: data row {number}"
        if None in raw:
            raise ConfigError(f"{where} has more fields than the header's {len(header)}")
        row = _row(raw, where)
        key = (row.system, row.particles, row.dim, row.interaction, row.m, row.omega,
               row.method, row.citation)  # fmt: skip
        if key in seen:
            raise ConfigError(f"{where} repeats data row {seen[key]} (same state, method, source)")
        seen[key] = number
        rows.append(row)
    return tuple(rows)


INTERACTIONS = ("none", "coulomb", "hard_sphere")


def _row(raw: Mapping[str, str | None], where: str) -> TableRow:
    # one CSV row as a TableRow; ConfigError naming the column and value that is wrong
    values: dict[str, Any] = {}
    for column in COLUMNS:
        text = raw.get(column)
        if text is None or not text.strip():
            raise ConfigError(f"{where} has a missing or bad value: column '{column}' is empty")
        kind = TableRow.__annotations__[column]  # "int", "float" or "str"
        try:
            values[column] = {"int": int, "float": float}.get(kind, str)(text.strip())
        except ValueError:
            noun = {"int": "an integer", "float": "a number"}[kind]
            raise ConfigError(
                f"{where} has a missing or bad value: column '{column}': {text!r} is not {noun}"
            ) from None
    row = TableRow(**values)
    rules = [
        ("particles", row.particles >= 1, "at least 1"),
        ("dim", 1 <= row.dim <= 3, "1, 2 or 3"),
        ("interaction", row.interaction in INTERACTIONS, f"one of {list(INTERACTIONS)}"),
        ("m", row.m >= 0, "at least 0 (|m| in 2D, l in 3D)"),
        ("omega", 0 < row.omega < math.inf, "positive and finite"),
        # trap, kinetic and every interaction here are >= 0: so is a state's energy
        ("energy", 0 < row.energy < math.inf, "positive and finite"),
        ("error", 0 <= row.error < math.inf, "finite and at least 0 (a one-sigma error bar)"),
    ]
    for column, ok, rule in rules:
        if not ok:
            raise ConfigError(f"{where}: column '{column}': {raw[column]!r} must be {rule}")
    return row


def table_rows(config: Mapping[str, Any], particles: int | None = None) -> list[TableRow]:
    """The rows of ``data.table`` that describe the study's system, sorted by omega.

    A row matches on particles (``particles``, else ``system.particles``),
    dimension, interaction and ``data.m`` (default 0, the ground state), and on
    ``data.method`` and ``data.citation`` (a case-insensitive part of it) when
    given; :class:`ConfigError` if none does or two share an omega.
    """
    system = config["system"]
    data = config.get("data", {})
    m = int(data.get("m", 0))
    n = system["particles"] if particles is None else particles
    method, citation = data.get("method"), data.get("citation")
    rows = [
        r
        for r in load_table(str(data.get("table", DEFAULT_TABLE)))
        if (r.particles, r.dim, r.interaction, r.m) == (n, system["dim"], system["interaction"], m)
        and (method is None or r.method == method)
        and (citation is None or citation.lower() in r.citation.lower())
    ]
    if not rows:
        picked = "".join(
            f", {key} {value!r}" for key, value in (("method", method), ("citation", citation))
            if value is not None
        )  # fmt: skip
        raise ConfigError(
            f"key 'data.table': no row for {n} particles, dim={system['dim']}, "
            f"interaction {system['interaction']!r}, m={m}{picked}"
        )
    rows.sort(key=lambda r: r.omega)
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        if math.isclose(a.omega, b.omega, rel_tol=1e-12):
            raise ConfigError(
                f"key 'data.table': two rows at omega={a.omega:g} for {n} particles "
                f"({a.method}, {a.citation}; {b.method}, {b.citation}); pick one with "
                "data.method or data.citation"
            )
    return rows
