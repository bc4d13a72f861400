"""Summary and comparison tables -> Markdown and HTML, the best value of each case marked."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from cdibench.report.columns import better, header

MISSING = "–"
#: Columns that identify a row or section rather than a quantity shown per case.
_HIDDEN = ("case", "kind", "n", "ok")


def format_number(value) -> str:
    """3 significant digits; integers and values >= 1000 without decimals or exponent; NaN -> '–'."""
    if value is None or isinstance(value, str):
        return MISSING if value is None else value
    value = float(value)
    if not math.isfinite(value):
        return MISSING if math.isnan(value) else str(value)
    if abs(value) >= 1000 or (value.is_integer() and abs(value) < 1e15):
        return f"{value:.0f}"
    return f"{value:.3g}"


def cell_text(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.number)) or value is None:
        return format_number(value)
    return MISSING if pd.isna(value) else str(value)


def _sections(table: pd.DataFrame):
    """(title, rows) per case (one untitled section when there is no case column)."""
    if "case" not in table.columns:
        yield "", table
        return
    for case, rows in table.groupby("case", sort=False):
        kind = rows["kind"].iloc[0] if "kind" in rows.columns else ""
        yield (f"{case} ({kind})" if isinstance(kind, str) and kind else str(case)), rows


def _shown_columns(rows: pd.DataFrame) -> list[str]:
    """Columns of a section: identifying text, then the numbers that have a value in this case."""
    return [c for c in rows.columns if c not in _HIDDEN and rows[c].notna().any()]


def _best_texts(rows: pd.DataFrame, column: str, mark_best: bool) -> set[str]:
    """Formatted best value(s) of a column in one section: needs a direction and 2+ values that
    differ as printed."""
    direction = better(column)
    if not mark_best or direction is None or not pd.api.types.is_numeric_dtype(rows[column]):
        return set()
    values = rows[column].astype(float)
    values = values[np.isfinite(values)]
    low, high = format_number(values.min()), format_number(values.max())
    if len(values) < 2 or low == high:  # nothing to choose between
        return set()
    return {low if direction == "lower" else high}


def _cells(table: pd.DataFrame, mark_best: bool):
    """Per section: title, columns, and rows of (text, is_number, is_best) cells."""
    for title, rows in _sections(table):
        columns = _shown_columns(rows)
        best = {c: _best_texts(rows, c, mark_best) for c in columns}
        numeric = {c: pd.api.types.is_numeric_dtype(rows[c]) for c in columns}
        body = []
        for _, row in rows.iterrows():
            texts = [cell_text(row[c]) for c in columns]
            body.append([(t, numeric[c], t in best[c]) for t, c in zip(texts, columns)])
        yield title, columns, body


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(headers: list[str], body, numeric: list[bool]) -> str:
    """A pipe table; body cells are (text, is_best) pairs, best ones in **bold**."""
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |",
             "|" + "|".join("--:" if n else ":--" for n in numeric) + "|"]
    for cells in body:
        texts = [f"**{_md_escape(t)}**" if b else _md_escape(t) for t, b in cells]
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines)


def to_markdown(table: pd.DataFrame, mark_best: bool = True) -> str:
    """Markdown: one '### case (kind)' section per case with a pipe table of the columns that have
    values for that case; headers carry units ('solve [s]'); numbers to 3 significant digits, NaN
    as '–'; with mark_best the best value of each column with a direction (lowest nrmse / time /
    memory, highest ssim / psnr) among 2+ rows of a case is **bold**."""
    parts = []
    for title, columns, body in _cells(table, mark_best):
        numeric = [cells[1] for cells in body[0]] if body else [False] * len(columns)
        pairs = [[(t, b) for t, _, b in cells] for cells in body]
        section = markdown_table([header(c) for c in columns], pairs, numeric)
        parts.append(f"### {title}\n\n{section}" if title else section)
    return "\n\n".join(parts) + "\n"


HTML_STYLE = ("<style>table.cdibench{border-collapse:collapse;margin-bottom:1.5em}"
              "table.cdibench th,table.cdibench td{padding:2px 8px;border-bottom:1px solid #ddd}"
              "table.cdibench td.num{text-align:right;font-variant-numeric:tabular-nums}"
              "table.cdibench td.best{background:#e6f4e6}"
              "table.cdibench td.regression{color:#b00;font-weight:bold}</style>")


def html_table(headers: list[str], body) -> str:
    """<table class="cdibench">; body cells are (text, is_number, css_class or '') triples."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    rows = []
    for cells in body:
        tds = []
        for text, number, css in cells:
            classes = " ".join(c for c in ("num" if number else "", css) if c)
            inner = f"<b>{html.escape(text)}</b>" if css == "best" else html.escape(text)
            tds.append(f'<td class="{classes}">{inner}</td>' if classes else f"<td>{inner}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<table class="cdibench"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table>")


def to_html(table: pd.DataFrame, mark_best: bool = True) -> str:
    """HTML fragment (style, then an <h3> and a table per case) of the same content as to_markdown;
    best cells are <b> inside <td class="best">."""
    parts = [HTML_STYLE]
    for title, columns, body in _cells(table, mark_best):
        if title:
            parts.append(f"<h3>{html.escape(title)}</h3>")
        cells = [[(t, n, "best" if b else "") for t, n, b in row] for row in body]
        parts.append(html_table([header(c) for c in columns], cells))
    return "\n".join(parts) + "\n"


def html_document(title: str, body: str) -> str:
    """A standalone UTF-8 HTML page around a fragment."""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
            f"<body>\n{body}</body></html>\n")
