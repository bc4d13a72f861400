"""The report behind ``cdibench report DIR [--against OLD] [--html FILE]``: Markdown text, an
optional HTML page, the summary table on disk and an exit code (1 on regression)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from cdibench.report.columns import header
from cdibench.report.compare import compare, has_regression
from cdibench.data.atomic import write_text_atomic
from cdibench.report.records import load_records, load_table, save_table
from cdibench.report.render import (MISSING, cell_text, format_number, html_document, html_table, markdown_table,
                                    to_html, to_markdown)
from cdibench.report.summary import summary_table

_ERROR_CHARS = 160


def _ratio_text(value) -> str:
    return MISSING if pd.isna(value) else f"{format_number(value)}×"


def _percent_text(value) -> str:
    return MISSING if pd.isna(value) else f"{100 * value:+.3g} %"


def comparison_rows(comparison: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, text rows and per-row regression flags of the rows that are not 'unchanged'
    (regressions first)."""
    shown = comparison[comparison["status"] != "unchanged"]
    shown = shown.iloc[(~shown["regression"]).argsort(kind="stable")]
    keys = [c for c in comparison.columns if c not in
            ("quantity", "old", "new", "ratio", "difference", "worse_by", "status", "regression")]
    headers = keys + ["quantity", "old", "new", "new / old", "worse by", "status"]
    rows = []
    for _, r in shown.iterrows():
        status = "REGRESSION" if r["regression"] else r["status"]
        rows.append([str(r[k]) for k in keys] + [header(r["quantity"]) if r["quantity"] else MISSING,
                     format_number(r["old"]), format_number(r["new"]), _ratio_text(r["ratio"]),
                     _percent_text(r["worse_by"]), status])
    return headers, rows, list(shown["regression"])


def comparison_verdict(comparison: pd.DataFrame, threshold: float) -> str:
    """One line: 'REGRESSION: …' or 'No regression: …'."""
    judged = comparison[comparison["status"].isin(["regression", "improvement", "unchanged", "changed"])]
    regressions = comparison[comparison["regression"]]
    if len(regressions):
        worst = ", ".join(f"{r['case']} / {r['label']}: {header(r['quantity'])} {_percent_text(r['worse_by'])}"
                          for _, r in regressions.head(5).iterrows())
        more = f" (and {len(regressions) - 5} more)" if len(regressions) > 5 else ""
        return (f"REGRESSION: {len(regressions)} of {len(judged)} compared quantities worse by more than "
                f"{100 * threshold:.3g} %: {worst}{more}")
    improved = int((comparison["status"] == "improvement").sum())
    return (f"No regression: {len(judged)} compared quantities, none worse by more than "
            f"{100 * threshold:.3g} % ({improved} improved)")


def _comparison_markdown(comparison: pd.DataFrame, threshold: float, against) -> str:
    verdict = comparison_verdict(comparison, threshold)
    parts = [f"## Comparison against {against}", "", f"**{verdict}**" if comparison["regression"].any()
             else verdict]
    headers, rows, flags = comparison_rows(comparison)
    if rows:
        numeric = [False] * (len(headers) - 5) + [True] * 4 + [False]
        body = [[(t, flag and i == len(row) - 1) for i, t in enumerate(row)] for row, flag in zip(rows, flags)]
        parts += ["", markdown_table(headers, body, numeric)]
    return "\n".join(parts) + "\n"


def _comparison_html(comparison: pd.DataFrame, threshold: float, against) -> str:
    verdict = comparison_verdict(comparison, threshold)
    css = ' class="regression"' if comparison["regression"].any() else ""
    parts = [f"<h2>Comparison against {html.escape(str(against))}</h2>", f"<p{css}>{html.escape(verdict)}</p>"]
    headers, rows, flags = comparison_rows(comparison)
    if rows:
        first_number = len(headers) - 5
        body = [[(t, first_number <= i < len(row) - 1, "regression" if flag else "") for i, t in enumerate(row)]
                for row, flag in zip(rows, flags)]
        parts.append(html_table(headers, body))
    return "\n".join(parts) + "\n"


def failures_rows(records: pd.DataFrame) -> pd.DataFrame:
    """case, label, seed, status, error (first line, shortened) of the runs that are not ok."""
    bad = records[records["status"].ne("ok")] if "status" in records.columns else records.iloc[:0]
    columns = [c for c in ("case", "label", "seed", "status", "error") if c in bad.columns]
    out = bad[columns].copy()
    if "error" in out.columns:
        out["error"] = [str(e).strip().splitlines()[0][:_ERROR_CHARS] if str(e).strip() else "" for e in out["error"]]
    return out


def _provenance_line(records: pd.DataFrame) -> str:
    def values(column):
        return ", ".join(sorted({str(v) for v in records[column].dropna()})) if column in records else "?"
    ok = int(records["status"].eq("ok").sum()) if "status" in records.columns else len(records)
    return (f"{len(records)} runs ({ok} ok) · cdibench {values('prov.cdibench_version')} · "
            f"commit {values('prov.git_commit')} · device {values('device')}")


def _load_side(path) -> pd.DataFrame:
    """A results folder (records) or a saved summary table (.csv / .parquet)."""
    path = Path(path)
    return load_table(path) if path.is_file() else load_records(path)


def report_text(results_dir, against=None, html_path=None, threshold: float = 0.10,
                by: tuple[str, ...] | None = None) -> tuple[str, int]:
    """Markdown report of a results folder and the exit code of ``cdibench report``.

    Writes the summary table to ``DIR/summary.parquet`` (``.csv`` without pyarrow). With
    ``against`` (an older results folder, or a summary table file) a comparison section follows,
    headed by 'REGRESSION: …' when a quantity got worse by more than ``threshold`` (relative) or
    fewer runs succeeded; ``by`` as in compare. ``html_path`` (True: ``DIR/report.html``) also
    writes the report as an HTML page. Returns (text, 1 on regression else 0).
    """
    folder = Path(results_dir)
    records = load_records(folder)
    table = summary_table(records)
    table_path = save_table(table, folder / "summary")
    title = f"cdibench report: {folder}"
    text = [f"# {title}", "", _provenance_line(records), "", to_markdown(table)]
    page = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(_provenance_line(records))}</p>", to_html(table)]
    failures = failures_rows(records)
    if len(failures):
        body = [[(cell_text(v), False) for v in row] for row in failures.itertuples(index=False)]
        text += ["## Runs not ok", "", markdown_table(list(failures.columns), body, [False] * failures.shape[1]), ""]
        page += ["<h2>Runs not ok</h2>", html_table(list(failures.columns), [[(t, n, "") for t, n in r] for r in body])]
    code = 0
    if against is not None:
        comparison = compare(records, _load_side(against), threshold=threshold, by=by)
        text.append(_comparison_markdown(comparison, threshold, against))
        page.append(_comparison_html(comparison, threshold, against))
        code = 1 if has_regression(comparison) else 0
    text.append(f"summary table: {table_path}")
    if html_path:
        html_file = folder / "report.html" if html_path is True else Path(html_path)
        write_text_atomic(html_file, html_document(title, "\n".join(page)))
        text.append(f"HTML report: {html_file}")
    return "\n".join(text) + "\n", code
