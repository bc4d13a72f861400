"""Tidy records -> one row per (case, label): seeds aggregated."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdibench.report.columns import RECORD_NUMBERS, main_metric_columns

#: Identifying columns of a summary row (device only when the records span several devices).
SUMMARY_KEYS = ("case", "label")


def summary_by(df: pd.DataFrame) -> list[str]:
    """(case, label), plus device when the frame holds records of more than one device."""
    several = "device" in df.columns and df["device"].nunique(dropna=True) > 1
    return list(SUMMARY_KEYS) + (["device"] if several else [])


def status_text(statuses: pd.Series) -> str:
    """'3/3 ok', or '1/3 ok, 1 diverged, 1 failed': failures stay visible."""
    counts = statuses.fillna("failed").value_counts()
    ok = int(counts.get("ok", 0))
    others = [f"{int(n)} {s}" for s, n in sorted(counts.items()) if s != "ok"]
    return ", ".join([f"{ok}/{len(statuses)} ok"] + others)


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if values.notna().any() else np.nan


def _reached_mean(values: pd.Series) -> float:
    """Mean time to a target, NaN unless every seed reached it (a target some seed never reached
    is not reached; averaging the lucky seeds would flatter the solver)."""
    return float(values.mean()) if len(values) and values.notna().all() else np.nan


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (case, label) (and device, when several): means over the seeds whose status is ok.

    Columns: case, label, [device], kind, n (seeds), ok (seeds with status ok), status (text such as
    '2/3 ok, 1 failed'), iterations, wall_s, s_per_iteration, peak_memory_mb, the ``metric.*``
    scores with a known direction (see columns.better) that some record has, and ``ttt.*`` seconds
    (NaN unless all ok seeds reached the target). Cells of a metric another kind of case has are
    NaN. Rows sorted by case, label.
    """
    by = summary_by(df)
    present = [c for c in df.columns if df[c].notna().any()]
    numbers = [c for c in RECORD_NUMBERS if c in present]
    metrics = main_metric_columns(present)
    ttts = [c for c in df.columns if c.startswith("ttt.")]  # kept when never reached: that is a result
    rows = []
    for key, group in df.groupby(by, sort=True, dropna=False):
        good = group[group["status"].eq("ok").to_numpy()] if "status" in group.columns else group
        row = dict(zip(by, key))
        row["kind"] = group["kind"].iloc[0] if "kind" in group.columns else ""
        row["n"] = len(group)
        row["ok"] = len(good)
        row["status"] = status_text(group["status"]) if "status" in group.columns else f"{len(group)} ok"
        row.update({c: _mean(good[c]) for c in numbers + metrics})
        row.update({c: _reached_mean(good[c]) for c in ttts})
        rows.append(row)
    return pd.DataFrame(rows, columns=by + ["kind", "n", "ok", "status"] + numbers + metrics + ttts)
