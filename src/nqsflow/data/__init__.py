"""Reference data: exact two-body solvers, literature tables, the design, the generate stage."""

from nqsflow.data.design import resolve_design
from nqsflow.data.generate import generate_reference, write_reference
from nqsflow.data.hard_sphere import hard_sphere_relative_energy
from nqsflow.data.table import TableRow, load_table, table_rows
from nqsflow.data.taut import quasi_exact
from nqsflow.data.two_body import noninteracting_energy, two_body_energy

__all__ = [
    "TableRow",
    "generate_reference",
    "hard_sphere_relative_energy",
    "load_table",
    "noninteracting_energy",
    "quasi_exact",
    "resolve_design",
    "table_rows",
    "two_body_energy",
    "write_reference",
]
