"""Result records on disk -> tidy pandas frames, and atomic table writes.

A results folder (``cdibench run SUITE -o DIR``) holds ``records/<key>.json`` (one flat JSON record
per case, solver variant and seed) and ``histories/<key>.csv`` (per-iteration loss, wall time and
metrics).
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cdibench.data.atomic import atomic_write

#: Record fields first in a tidy frame, in this order (those present).
CORE_COLUMNS = ("key", "suite", "case", "kind", "solver", "label", "seed", "status", "error", "iterations",
                "wall_s", "s_per_iteration", "floor_s", "floor_ratio", "total_s", "peak_memory_mb",
                "memory_increase_mb", "memory_estimate_mb", "fresh_process", "memory_ratio", "device",
                "started", "config_hash", "config")
_NUMERIC = ("seed", "iterations", "wall_s", "s_per_iteration", "floor_s", "floor_ratio", "total_s",
            "peak_memory_mb", "memory_increase_mb", "memory_estimate_mb")
#: Nested record dicts and the column prefix their entries get.
NESTED_PREFIXES = {"metrics": "metric.", "time_to_target": "ttt.", "provenance": "prov."}


def _cell(value):
    """A JSON value as a table cell: containers become canonical JSON text (Parquet- and CSV-safe)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def flatten_record(record: dict) -> dict:
    """One record -> one flat row: metrics -> ``metric.<name>``, time_to_target -> ``ttt.<name>``,
    provenance -> ``prov.<name>``; other containers (config) as JSON text; label defaults to solver."""
    row = {}
    for field, value in record.items():
        prefix = NESTED_PREFIXES.get(field)
        if prefix is not None and isinstance(value, dict):
            row.update({prefix + name: _cell(v) for name, v in value.items()})
        elif prefix is None:
            row[field] = _cell(value)
    if row.get("label") in (None, ""):
        row["label"] = row.get("solver")
    return row


def _read_record(path: Path) -> dict | None:
    """The record in ``path``, or None with a warning naming the file (torn, not JSON, not a record)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(f"skipping {path}: not a readable JSON record ({exc})", stacklevel=3)
        return None
    if not isinstance(record, dict) or "case" not in record:
        warnings.warn(f"skipping {path}: not a result record (a JSON object with a 'case' field)", stacklevel=3)
        return None
    return record


def _order(columns) -> list[str]:
    core = [c for c in CORE_COLUMNS if c in columns]
    groups = [[c for c in columns if c.startswith(p)] for p in NESTED_PREFIXES.values()]
    grouped = set(core).union(*groups)
    return core + [c for c in columns if c not in grouped] + [c for g in groups for c in g]


def _fill_device(df: pd.DataFrame) -> pd.Series:
    """Device of every row: a failed run records none, so it takes its provenance's device or,
    failing that, the one device of all the other records (when they agree)."""
    device = df["device"]
    if "prov.device" in df.columns:
        device = device.fillna(df["prov.device"])
    known = device.dropna().unique()
    return device.fillna(known[0]) if len(known) == 1 else device


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Tidy frame of record dicts (as written by the runner): one row per record, numbers as floats
    (NaN where absent or null, e.g. a time-to-target never reached or a failed run's timings)."""
    df = pd.DataFrame([flatten_record(r) for r in records])
    for column in df.columns:
        if column in _NUMERIC or column.startswith(("metric.", "ttt.")):
            df[column] = pd.to_numeric(df[column], errors="coerce").astype(np.float64)
    if "memory_estimate_mb" in df.columns and "memory_increase_mb" in df.columns:
        # cdibench.harness.memory's accuracy, only where the run had its process to itself (--executor isolated)
        fresh = df["fresh_process"].eq(True) if "fresh_process" in df.columns else pd.Series(False, index=df.index)
        df["memory_ratio"] = (df["memory_increase_mb"] / df["memory_estimate_mb"]).where(fresh)
    if "seed" in df.columns and df["seed"].notna().all():
        df["seed"] = df["seed"].astype(np.int64)
    if "error" in df.columns:
        df["error"] = df["error"].fillna("")
    if "device" in df.columns:
        df["device"] = _fill_device(df)
    df = df[_order(list(df.columns))]
    keys = [c for c in ("case", "label", "seed") if c in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def load_records(results_dir) -> pd.DataFrame:
    """All records of a results folder (``DIR/records/*.json``; a folder of record files is accepted
    too) as one tidy frame, one row per record; see ``records_frame``.

    Files that are not valid JSON (a run killed mid-write) are skipped with a warning naming them.
    Raises ValueError naming the folder when it holds no readable record.
    """
    folder = Path(results_dir)
    source = folder / "records" if (folder / "records").is_dir() else folder
    records = [r for r in (_read_record(p) for p in sorted(source.glob("*.json"))) if r is not None]
    if not records:
        raise ValueError(f"no result records in {folder}: expected {folder / 'records'}/*.json "
                         "(written by `cdibench run SUITE -o DIR`)")
    return records_frame(records)


def load_history(results_dir, key: str) -> pd.DataFrame:
    """Per-iteration history of one record: columns iteration, loss, wall_s and metrics (NaN where
    not evaluated). Raises ValueError naming the file when there is none (failed runs have none)."""
    path = Path(results_dir) / "histories" / f"{key}.csv"
    if not path.is_file():
        raise ValueError(f"no history for record {key!r}: {path} does not exist")
    return pd.read_csv(path)


def table_format() -> str:
    """'parquet' when pyarrow is importable, else 'csv'."""
    return "parquet" if importlib.util.find_spec("pyarrow") is not None else "csv"


def save_table(df: pd.DataFrame, path) -> Path:
    """Write ``df`` (without its index) atomically as Parquet if pyarrow is importable, else CSV; a
    ``.csv`` suffix always gives CSV. The suffix of ``path`` is set to the format written; returns
    the path written."""
    path = Path(path)
    fmt = "csv" if path.suffix == ".csv" else table_format()
    path = path.with_suffix(f".{fmt}")
    with atomic_write(path) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    return path


def load_table(path) -> pd.DataFrame:
    """Read a table written by save_table (by suffix; without one, .parquet then .csv is tried)."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        candidates = [path.with_suffix(".parquet"), path.with_suffix(".csv")]
        path = next((p for p in candidates if p.is_file()), candidates[-1])
    if not path.is_file():
        raise ValueError(f"no table at {path}")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


