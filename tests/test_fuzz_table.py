"""Fuzz a literature table (``data.table: FILE.csv``) through ``python -m nqsflow.data``.

Every cell of a valid two-row table is made non-numeric, negative, empty, nan
and infinite, and the file is broken as a whole (duplicate rows, unknown,
missing and repeated columns, ragged rows, not UTF-8, empty).  Each case must
write the reference artifact (exit 0) or be refused with exit status 2 and one
line that names the file and, for a cell, its column; never a traceback.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nqsflow.cli import run_cli
from nqsflow.data.__main__ import main as data_main

REPO = Path(__file__).resolve().parents[1]
HEADER = "system,particles,dim,interaction,m,omega,energy,error,method,citation"
ROWS = ["dot,2,2,coulomb,0,0.5,1.66,0.01,DMC,A. B. (2000)",
        "dot,2,2,coulomb,0,1.0,3.0,0.01,DMC,A. B. (2000)"]  # fmt: skip
COLUMNS = HEADER.split(",")
CELL_VALUES = {"text": "oops", "negative": "-1", "empty": "", "nan": "nan", "inf": "inf"}
WHOLE = {
    "duplicate row": [HEADER, ROWS[0], ROWS[1], ROWS[1]],
    "unknown column": [HEADER + ",note", ROWS[0] + ",x", ROWS[1] + ",y"],
    "missing column": [HEADER.replace(",error", ""), *(r.replace(",0.01", "") for r in ROWS)],
    "repeated column": [HEADER + ",m", ROWS[0] + ",0", ROWS[1] + ",0"],
    "extra field": [HEADER, ROWS[0] + ",9", ROWS[1]],
    "missing field": [HEADER, ROWS[0].rsplit(",", 1)[0], ROWS[1]],
    "only a header": [HEADER],
    "empty file": [],
    "no matching row": [HEADER, *(r.replace("dot,2,2", "dot,2,3") for r in ROWS)],
    "two sources at one omega": [HEADER, *ROWS, ROWS[1].replace("A. B.", "C. D.")],
}


def _cell_cases():
    for column in COLUMNS:
        for name, value in CELL_VALUES.items():
            cells = ROWS[1].split(",")
            cells[COLUMNS.index(column)] = value
            yield pytest.param([HEADER, ROWS[0], ",".join(cells)], column, id=f"{column}={name}")


CASES = [*_cell_cases(), *(pytest.param(lines, None, id=name) for name, lines in WHOLE.items())]


def _run(tmp_path, capsys, table: Path):
    with open(REPO / "config" / "config.yaml") as fh:
        config = copy.deepcopy(yaml.safe_load(fh))
    config["data"] = {"source": "table", "table": str(table)}
    config["design"] = {"train": [0.5, 1.0], "test": [], "target": []}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "reference.h5"
    status = run_cli(data_main, [str(path), "--out", str(out)])
    return status, capsys.readouterr().err.strip().splitlines(), out


@pytest.mark.parametrize(("lines", "column"), CASES)
def test_a_bad_table_is_refused_in_one_line_naming_file_and_column(tmp_path, capsys, lines,
                                                                   column):  # fmt: skip
    table = tmp_path / "mine.csv"
    table.write_text("\n".join(lines) + ("\n" if lines else ""))
    status, err, out = _run(tmp_path, capsys, table)
    assert status in (0, 2), err
    if status == 0:  # a value the table may hold (a negative m is no such value)
        assert out.exists() and column in ("system", "method", "citation"), err
        return
    assert len(err) == 1, err
    assert "mine.csv" in err[0] or "data.table" in err[0], err
    if column is not None:
        assert f"'{column}'" in err[0], err
    assert not out.exists()


def test_not_utf8_and_missing_files_are_one_line(tmp_path, capsys):
    table = tmp_path / "mine.csv"
    table.write_bytes(b"\xff\xfe" + HEADER.encode("utf-16-le"))
    status, err, _ = _run(tmp_path, capsys, table)
    assert status == 2 and len(err) == 1 and "not UTF-8" in err[0], err
    status, err, _ = _run(tmp_path, capsys, tmp_path / "absent.csv")
    assert status == 2 and len(err) == 1 and "cannot read" in err[0], err


def test_at_least_fifty_table_cases():
    assert len(CASES) >= 50
