"""asv (airspeed velocity) results -> the tidy form of report tables, so that ``compare`` works
across commits and machines.

asv writes ``<results_dir>/<machine>/machine.json`` (the machine's description, key "machine") and
one ``<commit[:8]>-<env_name>.json`` per commit and environment (results api version 2):
``commit_hash``, ``env_name``, ``date`` (commit time, JavaScript ms), ``params`` (machine and
environment), ``python``, ``requirements``, ``result_columns`` (e.g. result, params, version,
started_at, duration, stats_ci_99_a, stats_ci_99_b, stats_q_25, stats_q_75, stats_number,
stats_repeat, samples, profile) and ``results``: {benchmark: [values aligned with result_columns,
trailing nulls dropped]}, where ``result`` holds one value per element of the cartesian product
of ``params`` (lists of repr strings; [] when not parametrised; null when all failed).
``<results_dir>/benchmarks.json`` (optional here) gives each benchmark's type, unit and param_names.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import pandas as pd

from cdibench.report.columns import metric_better

#: asv benchmark type -> (default unit, better)
BENCHMARK_TYPES = {"time": ("seconds", "lower"), "peakmem": ("bytes", "lower"), "mem": ("bytes", "lower"),
                   "track": ("unit", None)}
_SKIP = {"machine.json", "benchmarks.json"}


def _load_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(f"skipping {path}: not readable JSON ({exc})", stacklevel=3)
        return None
    return data if isinstance(data, dict) else None


def _benchmarks_meta(root: Path) -> dict:
    """benchmarks.json of the results folder (or of its parent, given one machine's folder)."""
    for folder in (root, root.parent):
        if (folder / "benchmarks.json").is_file():
            return _load_json(folder / "benchmarks.json") or {}
    return {}


def _machine(path: Path, data: dict) -> str:
    machine_json = path.parent / "machine.json"
    info = _load_json(machine_json) if machine_json.is_file() else None
    name = (info or {}).get("machine") or (data.get("params") or {}).get("machine")
    return str(name or path.parent.name)


def param_text(param: str) -> str:
    """asv's repr of a parameter value without string quotes: "'hio'" -> hio, '64' -> 64."""
    if len(param) >= 2 and param[0] == param[-1] and param[0] in "'\"":
        return param[1:-1]
    return param


def benchmark_better(name: str, kind: str) -> str | None:
    """Direction of a benchmark: time/mem lower; track_<metric> by the metric named after the
    prefix (track_nrmse lower, track_accuracy_ssim higher); otherwise None."""
    if kind != "track":
        return BENCHMARK_TYPES.get(kind, (None, None))[1]
    tokens = name.rsplit(".", 1)[-1].split("_")[1:]
    return next((d for i in range(len(tokens)) if (d := metric_better("_".join(tokens[i:])))), None)


def _entries(data: dict):
    """(benchmark, {column: value}) in both the api-2 list form and the older dict form."""
    columns = data.get("result_columns")
    for name, entry in (data.get("results") or {}).items():
        if columns is not None and isinstance(entry, list):
            yield name, dict(zip(columns, entry))
        elif isinstance(entry, dict):
            yield name, entry
        else:
            yield name, {"result": [entry], "params": []}


def _number(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def _file_rows(data: dict, machine: str, meta: dict) -> list[dict]:
    common = {"commit": data.get("commit_hash"), "machine": machine, "device": machine,
              "env": data.get("env_name"), "python": data.get("python"),
              "date": pd.to_datetime(data["date"], unit="ms", utc=True) if data.get("date") else pd.NaT}
    common.update({f"prov.{k}": str(v) for k, v in (data.get("params") or {}).items()})
    rows = []
    for name, fields in _entries(data):
        info = meta.get(name) if isinstance(meta.get(name), dict) else {}
        kind = info.get("type") or name.rsplit(".", 1)[-1].split("_")[0]
        unit = info.get("unit") or BENCHMARK_TYPES.get(kind, ("",))[0]
        names = tuple(info.get("param_names") or ())
        combos = list(itertools.product(*(fields.get("params") or [])))
        values = fields.get("result")
        values = values if isinstance(values, list) else [values] * len(combos)
        ci_low = fields.get("stats_ci_99_a") or []
        ci_high = fields.get("stats_ci_99_b") or []
        for i, combo in enumerate(combos):
            value = _number(values[i] if i < len(values) else None)
            texts = tuple(param_text(str(p)) for p in combo)
            text = ", ".join(texts)
            rows.append({"case": f"{name}({text})" if combo else name, "label": name, **common,
                         "type": kind, "unit": unit, "better": benchmark_better(name, kind) or "",
                         "value": value, "status": "failed" if math.isnan(value) else "ok",
                         "ci_99_low": _number(ci_low[i] if i < len(ci_low) else None),
                         "ci_99_high": _number(ci_high[i] if i < len(ci_high) else None),
                         "params": text, "param_names": names, "param_values": texts,
                         "benchmark_version": fields.get("version"), "kind": "asv"})
    return rows


def asv_results(results_json_dir) -> pd.DataFrame:
    """Tidy frame of every asv results file under ``results_json_dir`` (asv's results folder, or one
    machine's folder in it): one row per (benchmark, parameter combination, commit, environment).

    Columns: case ('bench.Class.time_x(hio, 64)', the benchmark with its parameter values), label
    (the benchmark), commit, machine, device (= machine), env, python, date (commit time, UTC),
    type (time / peakmem / mem / track), unit, better ('lower' / 'higher' / ''), value (NaN when
    the benchmark failed), status ('ok' / 'failed'), ci_99_low, ci_99_high, params (text),
    param_names (tuple, from benchmarks.json; () without it), param_values (tuple of texts),
    benchmark_version, kind ('asv') and prov.<machine / environment parameter>. Select one commit
    on each side and ``compare(new, old)`` flags regressions. Files that are not JSON are skipped
    with a warning; raises ValueError naming the folder when it holds no results.
    """
    root = Path(results_json_dir)
    meta = _benchmarks_meta(root)
    rows = []
    for path in sorted(p for p in root.rglob("*.json") if p.name not in _SKIP):
        data = _load_json(path)
        if data is not None and "results" in data and "commit_hash" in data:
            rows.extend(_file_rows(data, _machine(path, data), meta))
    if not rows:
        raise ValueError(f"no asv results in {root}: expected <machine>/<commit>-<env>.json files "
                         "(asv's results_dir, e.g. .asv/results)")
    df = pd.DataFrame(rows)
    return df.sort_values(["date", "commit", "label", "case"], kind="stable").reset_index(drop=True)


def is_asv_results(path) -> bool:
    """True for asv's results folder (benchmarks.json or <machine>/machine.json in it) or one
    machine's folder in it."""
    path = Path(path)
    return path.is_dir() and ((path / "benchmarks.json").is_file() or (path / "machine.json").is_file()
                              or any(path.glob("*/machine.json")))
