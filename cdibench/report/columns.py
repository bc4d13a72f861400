"""What the columns of a results table mean: which direction is better, which are timings, and how
each one is titled in a rendered table."""

from __future__ import annotations

#: Timing and memory columns of a record, compared as ratios new / old (all lower is better).
TIMING_COLUMNS = ("s_per_iteration", "wall_s", "peak_memory_mb")
#: Columns of a record aggregated by summary_table, in display order (before metrics and ttt).
RECORD_NUMBERS = ("iterations", "wall_s", "s_per_iteration", "floor_ratio", "peak_memory_mb", "memory_ratio")
#: Prefixes of metric names (after "metric.") for which lower / higher is better.
LOWER_IS_BETTER = ("nrmse", "rmse", "resolution", "loss", "error")
HIGHER_IS_BETTER = ("ssim", "psnr")
_LOWER_COLUMNS = {"wall_s", "s_per_iteration", "peak_memory_mb", "memory_increase_mb", "total_s", "floor_s",
                  "floor_ratio"}

_HEADERS = {
    "n": "seeds", "status": "status", "iterations": "iterations", "wall_s": "solve [s]",
    "s_per_iteration": "per iteration [s]", "peak_memory_mb": "peak memory [MB]",
    "memory_increase_mb": "memory increase [MB]", "memory_estimate_mb": "memory estimate [MB]",
    "memory_ratio": "memory increase / estimate", "total_s": "total [s]", "value": "value",
    "ok_fraction": "ok runs (fraction)", "floor_s": "FFT floor [s]", "floor_ratio": "x FFT floor",
}


def better(column: str) -> str | None:
    """'lower', 'higher' or None (no direction: not marked, not judged) for a column name of a
    tidy or summary table: timings and ``ttt.*`` are lower-is-better, ``metric.<name>`` by the
    metric's name (nrmse*, resolution* lower; ssim*, psnr* higher)."""
    if column in _LOWER_COLUMNS or column.startswith("ttt."):
        return "lower"
    if column.startswith("metric."):
        return metric_better(column[len("metric."):])
    return None


def metric_better(name: str) -> str | None:
    """'lower' / 'higher' / None for a bare metric name such as 'nrmse_in' or 'ssim_phase'."""
    name = name.lower()
    if name.startswith(LOWER_IS_BETTER):
        return "lower"
    if name.startswith(HIGHER_IS_BETTER):
        return "higher"
    return None


def main_metric_columns(columns) -> list[str]:
    """The ``metric.*`` columns with a known direction (the scores, not alignment by-products such
    as shifts, phase ramps or the twin flag), in their given order."""
    return [c for c in columns if c.startswith("metric.") and better(c) is not None]


def header(column: str) -> str:
    """Display title of a column, with the unit of seconds and megabytes in it."""
    if column in _HEADERS:
        return _HEADERS[column]
    if column.startswith("metric."):
        name = column[len("metric."):]
        return f"{name} [px]" if name.endswith("_px") else name
    if column.startswith("ttt."):
        return f"time to {column[len('ttt.'):]} [s]"
    return column
