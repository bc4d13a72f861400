"""Records and asv results -> pandas tables, Markdown/HTML reports and comparisons across
releases, commits and devices.

- ``load_records(DIR)``: tidy frame, one row per (case, solver variant, seed) record;
  ``load_history(DIR, key)``: per-iteration history of one record.
- ``summary_table(df)``: per (case, label), means over the ok seeds with the status visible.
- ``to_markdown`` / ``to_html``: one table per case, best value per column marked.
- ``compare(new, old)`` / ``has_regression``: ratios, differences and regression flags.
- ``report_text(DIR, against=OLD)``: the text and exit code of ``cdibench report``.
- ``asv_results(.asv/results)``: asv's results files in the same tidy form.
- ``cdibench.report.scaling``: log-log slope of time vs positions, slices, angles, pattern size
  (``fit_loglog_slope``, ``scaling_table``), the Scaling section of ``cdibench report`` on asv results.
- ``save_table`` / ``load_table``: Parquet when pyarrow is importable, else CSV; atomic.

No TensorFlow here: reports work wherever pandas does.
"""

from cdibench.report.asv import asv_results
from cdibench.report.columns import better
from cdibench.report.compare import compare, default_by, has_regression
from cdibench.report.document import report_text
from cdibench.report.records import load_history, load_records, load_table, records_frame, save_table
from cdibench.report.render import format_number, to_html, to_markdown
from cdibench.report.summary import summary_table

__all__ = ["asv_results", "better", "compare", "default_by", "format_number", "has_regression", "load_history",
           "load_records", "load_table", "records_frame", "report_text", "save_table", "summary_table",
           "to_html", "to_markdown"]
