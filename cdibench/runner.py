"""Run a suite: simulate each dataset once (cached by spec hash), then every (case, run, seed) in
isolation, each writing one record atomically, so an interrupted run resumes where it stopped.

Layout of an output folder:
    datasets/<spec hash>.cxi      simulated once, shared by all runs (and across suites)
    records/<key>.json            one flat record per (case, run, seed): written last, atomically
    histories/<key>.csv           per-iteration loss, wall time and metrics
    reconstructions/<key>.h5      the estimates (figures)
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cdibench.evaluate import score
from cdibench.io import load_cxi, save_cxi
from cdibench.metrics import time_to_target
from cdibench.provenance import provenance
from cdibench.reconstruction import atomic_path, save_reconstruction
from cdibench.simulate import simulate
from cdibench.solvers import load_backend, reconstruct, solver_config
from cdibench.suite import Suite, Task, parse_target


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=1, default=float))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def dataset_path(task: Task, out: Path) -> Path:
    return out / "datasets" / f"{task.spec.hash()}.cxi"


def prepare_datasets(tasks: list[Task], out: Path, progress: bool = True) -> None:
    """Simulate each distinct dataset once (skipping cached ones)."""
    (out / "datasets").mkdir(parents=True, exist_ok=True)
    todo = {dataset_path(t, out): t.spec for t in tasks if not dataset_path(t, out).is_file()}
    for path, spec in tqdm(todo.items(), desc="simulate datasets", disable=not progress or not todo):
        save_cxi(simulate(spec, progress=progress), path)


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled every 10 ms), in MiB."""

    def __enter__(self):
        self.start_mb = self.peak_mb = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())
        return False


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _times_to_target(history: dict, targets) -> dict:
    out = {}
    for target in targets:
        metric, op, value = parse_target(target)
        if metric in history:
            out[target] = time_to_target(history["wall_s"], history[metric], value, lower_is_better=op == "<=")
    return out


def _base_record(task: Task, path: Path) -> dict:
    return {"key": task.key, "suite": task.suite, "case": task.case.name, "kind": task.spec.kind,
            "solver": task.run.solver, "label": task.run.label, "config": task.run.options,
            "seed": task.seed, "dataset_path": str(path.resolve()),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_task(task: Task, out: Path, suite: Suite, device: str | None = None, progress: bool = True) -> dict:
    """Run one task and write its record (status ok / diverged / failed); never raises for the
    solver's own errors."""
    path = dataset_path(task, out)
    record = _base_record(task, path)
    start = time.perf_counter()
    try:
        dataset = load_cxi(path)
        config = solver_config(task.run.solver, task.run.options, seed=task.seed)
        load_backend(task.run.solver)
        with PeakMemory() as memory:
            rec = reconstruct(dataset, task.run.solver, config, progress=progress, device=device,
                              max_wall_s=suite.max_wall_s)
        scores = score(dataset, rec)
        save_reconstruction(rec, out / "reconstructions" / f"{task.key}.h5", str(path.resolve()))
        pd.DataFrame(rec.history).to_csv(out / "histories" / f"{task.key}.csv", index=False)
        record.update(status=rec.status, error=rec.message, iterations=rec.iterations, wall_s=rec.wall_s,
                      s_per_iteration=rec.wall_s / max(rec.iterations, 1), peak_memory_mb=memory.peak_mb,
                      memory_increase_mb=memory.peak_mb - memory.start_mb,
                      metrics={k: float(v) for k, v in scores.items() if isinstance(v, (int, float, np.floating))},
                      time_to_target=_times_to_target(rec.history, suite.targets),
                      device=rec.provenance.get("device", "CPU"), provenance=rec.provenance)
    except Exception as exc:  # a failing case is a result: record it, the suite carries on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                      provenance=provenance(seed=task.seed))
    record["total_s"] = time.perf_counter() - start
    write_json_atomic(out / "records" / f"{task.key}.json", record)
    return record


def done_keys(out: Path) -> set[str]:
    """Keys of the records already written and readable (a torn file is redone)."""
    keys = set()
    for file in (out / "records").glob("*.json"):
        try:
            keys.add(json.loads(file.read_text())["key"])
        except (ValueError, KeyError, OSError):
            continue
    return keys


def run_suite(suite: Suite, out: Path, device: str | None = None, progress: bool = True) -> list[dict]:
    """Run every task not yet done; returns the records written by this call."""
    for sub in ("records", "histories", "reconstructions"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    tasks = suite.tasks()
    done = done_keys(out)
    todo = [t for t in tasks if t.key not in done]
    prepare_datasets(todo, out, progress)
    records = []
    bar = tqdm(todo, desc=f"suite {suite.name}", disable=not progress, position=0)
    for task in bar:
        bar.set_postfix_str(f"{task.case.name} / {task.run.label}")
        records.append(run_task(task, out, suite, device, progress))
    return records
