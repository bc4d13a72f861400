"""Two result sets -> per-quantity ratios, differences and regression flags.

Works on tidy records (load_records: seeds are averaged over the ok runs), on summary tables
(summary_table) and on asv results (asv_results: the ``value`` column, direction per row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdibench.report.columns import TIMING_COLUMNS, better, main_metric_columns

COMPARISON_COLUMNS = ("quantity", "old", "new", "ratio", "difference", "worse_by", "status", "regression")
OK_FRACTION = "ok_fraction"


def default_by(new_df: pd.DataFrame, old_df: pd.DataFrame) -> tuple[str, ...]:
    """(case, label), plus device when both frames have a device column and share a device; two
    runs on disjoint devices (a GPU against a CPU) are matched on (case, label) alone."""
    by = ("case", "label")
    if "device" in new_df.columns and "device" in old_df.columns:
        if set(new_df["device"].dropna()) & set(old_df["device"].dropna()):
            by += ("device",)
    return by


def _quantities(df: pd.DataFrame) -> list[str]:
    """Compared columns: timings, scores with a direction, and asv's generic ``value``."""
    return ([c for c in TIMING_COLUMNS if c in df.columns] + main_metric_columns(df.columns)
            + (["value"] if "value" in df.columns else []))


def _aggregate(df: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """One row per key: the share of ok runs and the mean of each quantity over the ok runs."""
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"cannot match rows by {list(by)}: column(s) {missing} missing "
                         f"(columns are {list(df.columns)})")
    quantities = _quantities(df)
    frame = df[list(by) + quantities].copy()
    if {"ok", "n"} <= set(df.columns):  # a summary table: seeds already averaged over ok runs
        frame[OK_FRACTION] = df["ok"].to_numpy(float) / df["n"].to_numpy(float)
    elif "status" in df.columns:  # records: one row per run
        ok = df["status"].eq("ok").to_numpy()
        frame.loc[~ok, quantities] = np.nan
        frame[OK_FRACTION] = ok.astype(float)
    else:
        frame[OK_FRACTION] = 1.0
    groups = frame.groupby(list(by), dropna=False, sort=False)
    out = groups[quantities + [OK_FRACTION]].mean()
    if "better" in df.columns:
        out["better"] = df.groupby(list(by), dropna=False, sort=False)["better"].first()
    return out


def _judge(old: float, new: float, direction: str | None, threshold: float) -> dict:
    """ratio, difference, worse_by (relative change, positive = worse) and the verdict of one pair."""
    change = new - old
    if old != 0:
        ratio, relative = new / old, change / abs(old)
    elif change == 0:
        ratio, relative = 1.0, 0.0
    else:
        ratio = relative = float(np.copysign(np.inf, change))
    worse_by = {"lower": relative, "higher": -relative}.get(direction, np.nan)
    if np.isnan(worse_by):
        status = "unchanged" if abs(relative) <= threshold else "changed"
    elif worse_by > threshold:
        status = "regression"
    elif worse_by < -threshold:
        status = "improvement"
    else:
        status = "unchanged"
    return {"old": old, "new": new, "ratio": ratio, "difference": change, "worse_by": worse_by,
            "status": status, "regression": status == "regression"}


def _pairs(new: pd.Series, old: pd.Series, threshold: float):
    """Comparison rows (without the key) of one key present on both sides."""
    ok_old, ok_new = old[OK_FRACTION], new[OK_FRACTION]
    yield {"quantity": OK_FRACTION, **_judge(ok_old, ok_new, "higher", 0.0)}
    for quantity in [q for q in new.index if q in old.index and q not in (OK_FRACTION, "better")]:
        o, n = float(old[quantity]), float(new[quantity])
        if np.isnan(o) and np.isnan(n):
            continue
        if np.isnan(o) or np.isnan(n):
            side = "new" if np.isnan(n) else "old"
            yield {"quantity": quantity, "old": o, "new": n, "status": f"no value in {side}", "regression": False}
            continue
        direction = better(quantity)
        if quantity == "value":  # asv: per benchmark type
            direction = next((d for d in (new.get("better"), old.get("better")) if isinstance(d, str) and d), None)
        yield {"quantity": quantity, **_judge(o, n, direction, threshold)}


def compare(new_df: pd.DataFrame, old_df: pd.DataFrame, threshold: float = 0.10,
            by: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Long table: one row per matched key and compared quantity.

    Keys: ``by`` (default: default_by). Quantities: ok_fraction (share of ok runs; any drop is a
    regression), timings s_per_iteration, wall_s, peak_memory_mb (ratio new / old), the scores with
    a direction (difference new - old) and asv's ``value``. Columns: *by, quantity, old, new,
    ratio, difference, worse_by (relative change signed so that positive is worse: a ratio of 2 on
    a timing is +1.0; NaN without a direction), status ('regression' when worse_by > threshold,
    'improvement' when < -threshold, 'unchanged', 'changed' (no direction), 'no value in new/old',
    'only in new', 'only in old'), regression (bool). Keys on one side only get one row with an
    empty quantity. Rows keep new's order, then old-only keys.
    """
    if not threshold >= 0:
        raise ValueError(f"threshold={threshold!r}: expected a relative change >= 0, e.g. 0.10")
    by = tuple(by) if by else default_by(new_df, old_df)
    new, old = _aggregate(new_df, by), _aggregate(old_df, by)
    rows = []
    for key in list(new.index) + [k for k in old.index if k not in new.index]:
        ident = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        if key not in old.index or key not in new.index:
            side = "new" if key in new.index else "old"
            rows.append({**ident, "quantity": "", "status": f"only in {side}", "regression": False})
            continue
        rows.extend({**ident, **pair} for pair in _pairs(new.loc[key], old.loc[key], threshold))
    out = pd.DataFrame(rows, columns=list(by) + list(COMPARISON_COLUMNS))
    out["regression"] = out["regression"].astype(bool)
    return out


def has_regression(comparison: pd.DataFrame) -> bool:
    """True when any row of a compare() table is flagged as a regression."""
    return bool(len(comparison)) and bool(comparison["regression"].astype(bool).any())
