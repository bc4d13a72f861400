"""Scaling: the log-log slope of run time against a size parameter (scan positions, slices, angles,
pattern size), fitted per benchmark, with the bar that per-iteration work must meet.

Input is a tidy timing frame, one row per measured point: ``benchmark``, ``parameter`` (its name,
e.g. 'n_positions'), ``fixed`` (the other parameters as text, '' when none), ``x`` (the parameter's
value) and ``seconds``. ``asv_timings`` makes one from ``asv_results``; ``benchmarks/scaling.py``
writes one from a direct timing run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from cdibench.report.asv import asv_results
from cdibench.report.render import format_number, markdown_table

#: parameter -> the largest slope allowed: per-epoch work is linear in positions, slices and angles,
#: so time must not grow faster (a fixed per-iteration overhead only lowers the slope).
SLOPE_BAR = {"n_positions": 1.1, "n_slices": 1.1, "n_angles": 1.1}
TIMING_KEYS = ("benchmark", "parameter", "fixed")


@dataclasses.dataclass(frozen=True)
class SlopeFit:
    """t ~ c x^slope: slope, its standard error and R^2 of the fit in log-log (both NaN with 2
    points: nothing left to judge the fit by; R^2 NaN when t is constant) and the number of points."""

    slope: float
    slope_se: float
    r2: float
    n_points: int


def fit_loglog_slope(x, t) -> SlopeFit:
    """Least squares of log t on log x (shapes (n,), n >= 2, values > 0, >= 2 distinct x)."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    if x.shape != t.shape or x.ndim != 1:
        raise ValueError(f"x and t must be 1D of equal length: got shapes {x.shape} and {t.shape}")
    if not (np.all(x > 0) and np.all(t > 0) and np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("x and t must be finite and > 0 for a log-log fit")
    if np.unique(x).size < 2:
        raise ValueError(f"need >= 2 distinct x for a slope: got {x.tolist()}")
    lx, lt = np.log(x), np.log(t)
    dx = lx - lx.mean()
    slope = float(dx @ (lt - lt.mean()) / (dx @ dx))
    residual = lt - lt.mean() - slope * dx
    ss_res, ss_tot = float(residual @ residual), float(((lt - lt.mean()) ** 2).sum())
    n = x.size
    if n == 2:
        return SlopeFit(slope, float("nan"), float("nan"), n)
    se = float(np.sqrt(ss_res / (n - 2) / (dx @ dx)))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return SlopeFit(slope, se, r2, n)


def scaling_table(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per (benchmark, parameter, fixed) with >= 2 distinct positive timings: x_min, x_max,
    n_points, slope, slope_se, r2, bar (NaN where the parameter has none) and over_bar."""
    missing = [c for c in TIMING_KEYS + ("x", "seconds") if c not in timings.columns]
    if missing:
        raise ValueError(f"timings lack column(s) {missing}: expected {list(TIMING_KEYS)} + ['x', 'seconds']")
    ok = timings[(timings["seconds"] > 0) & np.isfinite(timings["seconds"])]
    rows = []
    for key, group in ok.groupby(list(TIMING_KEYS), sort=True):
        if group["x"].nunique() < 2:
            continue
        fit = fit_loglog_slope(group["x"], group["seconds"])
        bar = SLOPE_BAR.get(key[1], np.nan)
        rows.append({**dict(zip(TIMING_KEYS, key)), "x_min": group["x"].min(), "x_max": group["x"].max(),
                     **dataclasses.asdict(fit), "bar": bar, "over_bar": bool(fit.slope > bar)})
    columns = list(TIMING_KEYS) + ["x_min", "x_max", "slope", "slope_se", "r2", "n_points", "bar", "over_bar"]
    return pd.DataFrame(rows, columns=columns)


def scaling_markdown(table: pd.DataFrame) -> str:
    """The 'Scaling' section: one line per fit, 'OVER BAR' in bold where a slope exceeds its bar."""
    over = int(table["over_bar"].sum())
    barred = int(table["bar"].notna().sum())
    bars = ", ".join(f"{v} for {k}" for k, v in SLOPE_BAR.items())
    intro = (f"Log-log slope of time vs each size parameter (least squares; ± standard error). "
             f"Bar: slope <= {bars}. {over} of {barred} barred fits over the bar.")
    parts = ["## Scaling", "", intro, ""]
    if table.empty:
        return "\n".join(parts + ["No benchmark has timings at two or more values of a parameter."]) + "\n"
    headers = ["benchmark", "fixed", "parameter", "range", "points", "slope", "± se", "R²", "bar"]
    body = []
    for r in table.itertuples(index=False):
        verdict = "" if np.isnan(r.bar) else ("OVER BAR" if r.over_bar else "met")
        cells = [r.benchmark, r.fixed, r.parameter, f"{format_number(r.x_min)}..{format_number(r.x_max)}",
                 str(r.n_points), f"{r.slope:.2f}", format_number(r.slope_se), format_number(round(r.r2, 3)),
                 f"<= {r.bar} {verdict}" if verdict else ""]
        body.append([(c, r.over_bar and i == len(cells) - 1) for i, c in enumerate(cells)])
    numeric = [False, False, False, False, True, True, True, True, False]
    return "\n".join(parts + [markdown_table(headers, body, numeric)]) + "\n"


def _numeric(texts) -> np.ndarray | None:
    try:
        return np.array([float(t) for t in texts])
    except ValueError:
        return None


def asv_timings(asv_df: pd.DataFrame) -> pd.DataFrame:
    """Timing rows of an ``asv_results`` frame (successful ``time_`` benchmarks of the latest commit
    per machine and environment): one row per numeric parameter of each point, ``benchmark`` =
    'label [machine/env]'."""
    columns = list(TIMING_KEYS) + ["x", "seconds"]
    df = asv_df[(asv_df["type"] == "time") & (asv_df["status"] == "ok")]
    if df.empty:
        return pd.DataFrame(columns=columns)
    latest = df.groupby(["machine", "env"])["date"].transform("max")
    df = df[(df["date"] == latest) | latest.isna()]
    rows = []
    for (label, machine, env), group in df.groupby(["label", "machine", "env"]):
        n_params = len(group["param_values"].iloc[0])
        names = group["param_names"].iloc[0] or tuple(f"param{k + 1}" for k in range(n_params))
        values = list(zip(*group["param_values"])) if names else []
        for i, name in enumerate(names):
            x = _numeric(values[i])
            if x is None:
                continue
            for j, (pv, seconds) in enumerate(zip(group["param_values"], group["value"])):
                fixed = ", ".join(f"{n}={v}" for k, (n, v) in enumerate(zip(names, pv)) if k != i)
                rows.append({"benchmark": f"{label} [{machine}/{env}]", "parameter": name, "fixed": fixed,
                             "x": x[j], "seconds": seconds})
    return pd.DataFrame(rows, columns=columns)


def asv_report_text(results_dir) -> str:
    """The text of ``cdibench report`` on an asv results folder: what it holds and the Scaling
    section (asv's per-point time: the median of its samples, one sample with --quick)."""
    df = asv_results(results_dir)
    machines = ", ".join(sorted(df["machine"].astype(str).unique()))
    commits = ", ".join(sorted(str(c)[:8] for c in df["commit"].unique()))
    about = (f"{len(df)} asv results · machines {machines} · commits {commits}. asv's time per point is the "
             "median of its samples; with --quick it is one sample (a smoke test, not a slope to trust).")
    return "\n".join([f"# cdibench asv report: {results_dir}", "", about, "",
                      scaling_markdown(scaling_table(asv_timings(df)))])
