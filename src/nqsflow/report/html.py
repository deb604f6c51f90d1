"""``summary.html``: the study's ``summary.md`` as a page of its own.

Snakemake's HTML report shows an HTML result in a frame but offers a Markdown one
only as a download, so the summary goes there as HTML too.  The summaries use
a small part of Markdown (headings, paragraphs, ``-`` lists, pipe tables,
```code``` and ``**bold**``): that part is rendered here, so no Markdown library
is needed.
"""

from __future__ import annotations

import html
import re

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _inline(text: str) -> str:
    """Escape ``text`` and render its ```code``` and ``**bold**``."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    """A pipe table: a header row, a ``|---|`` row, then the body."""
    head, body = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    rows = ["<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _block(lines: list[str]) -> str:
    """One block of lines between blank lines."""
    heading = re.match(r"(#{1,6}) (.*)", lines[0])
    if heading:
        level = len(heading[1])
        rest = f"\n{_block(lines[1:])}" if lines[1:] else ""
        return f"<h{level}>{_inline(heading[2])}</h{level}>{rest}"
    if all(line.startswith("|") for line in lines) and len(lines) >= 2:
        return _table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>\n" + "\n".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "\n</ul>"
    return "<p>" + _inline(" ".join(lines)) + "</p>"


def markdown_html(text: str, title: str = "summary") -> str:
    """A self-contained HTML page of the summary's Markdown ``text``."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    body = "\n".join(_block(lines) for lines in blocks)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
