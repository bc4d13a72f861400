"""Run a suite: simulate each dataset once (cached by spec hash), then every (case, run, seed) in
isolation, each writing one record atomically, so an interrupted run resumes where it stopped.

Layout of an output folder:
    datasets/<spec hash>.cxi      simulated once, shared by all runs (and across suites)
    records/<key>.json            one flat record per (case, run, seed): written last, atomically
    histories/<key>.csv           per-iteration loss, wall time and metrics
    reconstructions/<key>.h5      the estimates (figures)

Before anything is simulated, :func:`preflight` refuses a suite that cannot run: a solver that
does not handle its case's kind, or a dataset larger than the memory available (an estimate from
the spec alone, no array allocated). Tasks then run on an executor (``cdibench.harness.executors``): in
this process by default, or one Dask task per (case, run, seed) on a cluster; either way each task
writes its own record, so a lost worker or a killed run costs only the tasks that were running.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cdibench.data.atomic import write_json_atomic
from cdibench.data.cxi import load_cxi, save_cxi
from cdibench.data.reconstruction import save_reconstruction
from cdibench.harness.executors import LocalExecutor
from cdibench.harness.floor import floor_seconds
from cdibench.harness.memory import estimate_run_bytes, intensities_shape, largest_batch
from cdibench.harness.reconstruct import reconstruct
from cdibench.harness.suite import Suite, Task, parse_target
from cdibench.metrics import time_to_target
from cdibench.metrics.evaluate import score
from cdibench.provenance import provenance
from cdibench.simulation import simulate
from cdibench.solvers.registry import (
    SOLVERS,
    load_backend,
    missing_backend,
    solver_config,
)


def dataset_path(task: Task, out: Path) -> Path:
    return out / "datasets" / f"{task.spec.hash()}.cxi"


class SuiteTooLargeError(ValueError):
    """A dataset of the suite would not fit in the memory available."""


class RunTooLargeError(SuiteTooLargeError):
    """A run's estimated memory (dataset plus solver, cdibench.harness.memory) exceeds the memory available."""


def estimate_dataset_bytes(spec) -> int:
    """A lower bound on the memory [bytes] simulating and loading ``spec``'s dataset takes: the
    float32 intensities (n_angles, n_positions, pattern_px, pattern_px) plus the delta/beta float32
    volume on the simulation grid (``simulation.grid_upsample`` times finer). Arithmetic on the
    spec only: nothing is allocated, so absurd specs (10**6 positions) are refused instantly."""
    n_angles, n_positions, n_y, n_x = intensities_shape(spec)
    intensities = 4 * n_angles * n_positions * n_y * n_x
    up = int(getattr(getattr(spec, "simulation", None), "grid_upsample", 1))
    n_z, n_y, n_x = (int(n) for n in spec.phantom.shape_px)
    volume = 2 * 4 * n_z * (up if n_z > 1 else 1) * n_y * up * n_x * up
    return intensities + volume


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo [bytes]; None where the kernel does not say (not Linux)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _size(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.3g} PiB"  # pragma: no cover


def check_run_memory(tasks: list[Task], concurrent: int = 1, available: int | None = None) -> None:
    """Refuse (RunTooLargeError) a run whose estimate (cdibench.harness.memory: dataset, solver state and
    working set) exceeds the available memory shared by ``concurrent`` tasks, suggesting a
    batch_size that fits (AD solvers) or a smaller case."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    for task in tasks:
        if task.run.solver in SOLVERS:  # unknown solvers are refused when the task runs
            _check_run(task, available // max(1, concurrent))


def _check_run(task: Task, available: int) -> None:
    try:
        config = solver_config(task.run.solver, task.run.options, seed=task.seed)
    except ValueError:
        return  # a bad option fails its own task, recorded, when it runs
    estimate = estimate_run_bytes(task.spec, task.run.solver, config)
    if estimate.total_bytes <= available:
        return
    batch = largest_batch(task.spec, task.run.solver, config, available)
    if batch:
        hint = f"option batch_size = {batch} (the largest that fits)"
    elif "batch_size" in getattr(config, "__dataclass_fields__", {}):
        hint = "a smaller case: even batch_size = 1 does not fit; fewer angles, a smaller phantom or pattern_px"
    else:
        hint = "a smaller case: fewer positions or angles, a smaller geometry.pattern_px or phantom"
    raise RunTooLargeError(
        f"case {task.case.name!r}, solver {task.run.solver!r}: estimated memory {_size(estimate.total_bytes)} "
        f"(dataset {_size(estimate.dataset_bytes)} + run {_size(estimate.run_bytes)}, cdibench.harness.memory) is more "
        f"than the {_size(available)} of memory available per task (MemAvailable); expected {hint}")


def check_memory(tasks: list[Task], concurrent: int = 1, available: int | None = None) -> None:
    """Refuse (SuiteTooLargeError, a ValueError) when the largest dataset of ``tasks`` times the
    number of tasks holding one at once on this machine exceeds the available memory."""
    available = available_memory_bytes() if available is None else available
    if available is None or not tasks:
        return
    sizes = {t.case.name: (estimate_dataset_bytes(t.spec), t.spec) for t in tasks}
    name, (need, spec) = max(sizes.items(), key=lambda item: item[1][0])
    total = need * max(1, concurrent)
    if total > available:
        shape = intensities_shape(spec)
        workers = f" x {concurrent} workers = {_size(total)}" if concurrent > 1 else ""
        raise SuiteTooLargeError(
            f"case {name!r}: dataset needs at least {_size(need)}{workers} (intensities {shape} float32 "
            f"plus the volume {list(spec.phantom.shape_px)}), more than the {_size(available)} of memory "
            "available (MemAvailable); expected a smaller case: fewer positions or angles, a smaller "
            "geometry.pattern_px or phantom, or split the scan into batches" +
            (", or fewer workers" if concurrent > 1 else ""))


def check_disk(tasks: list[Task], out: Path) -> None:
    """Refuse when the datasets still to simulate would not fit on the results folder's disk."""
    todo = {dataset_path(t, out): t.spec for t in tasks if not dataset_path(t, out).is_file()}
    need = sum(estimate_dataset_bytes(spec) for spec in todo.values())
    try:
        free = shutil.disk_usage(out).free
    except OSError:
        return
    if need > free:
        raise SuiteTooLargeError(f"{out}: the {len(todo)} datasets to simulate need at least {_size(need)} "
                                 f"of disk, more than the {_size(free)} free there; expected a smaller "
                                 "suite or another -o folder")


def check_kinds(tasks: list[Task]) -> None:
    """Refuse a run whose solver does not handle its case's kind (before simulating anything)."""
    for task in tasks:
        solver = SOLVERS.get(task.run.solver)
        if solver is not None and task.spec.kind not in solver.kinds:
            raise ValueError(f"case {task.case.name!r}: solver = {task.run.solver!r} cannot run kind "
                             f"{task.spec.kind!r}: expected a solver for that kind, "
                             f"{task.run.solver!r} handles {', '.join(solver.kinds)}")


def preflight(tasks: list[Task], out: Path, concurrent: int = 1) -> None:
    """Everything that can be checked before simulating: solver kinds, memory (datasets, then each
    run's estimate), disk."""
    check_kinds(tasks)
    check_memory(tasks, concurrent)
    check_run_memory(tasks, concurrent)
    check_disk(tasks, out)


def prepare_datasets(tasks: list[Task], out: Path, progress: bool = True) -> None:
    """Simulate each distinct dataset once (skipping cached ones)."""
    (out / "datasets").mkdir(parents=True, exist_ok=True)
    todo = {dataset_path(t, out): t.spec for t in tasks if not dataset_path(t, out).is_file()}
    for path, spec in tqdm(todo.items(), desc="simulate datasets", disable=not progress or not todo):
        save_cxi(simulate(spec, progress=progress), path)


class PeakMemory:
    """Peak resident memory of this process while the block runs, in MiB: the kernel's high-water
    mark (VmHWM, reset on entry through /proc/self/clear_refs), which catches peaks shorter than
    the 10 ms sampling that is the fallback where Linux does not offer it."""

    def __enter__(self):
        self._hwm = _reset_high_water_mark()
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
        self.peak_mb = max(self.peak_mb, _rss_mb(), _rss_mb("VmHWM:") if self._hwm else 0.0)
        return False


def _reset_high_water_mark() -> bool:
    """Reset this process's VmHWM to its current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_mb(field: str = "VmRSS:") -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
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


_PROCESS_USED = []


def _claim_process() -> bool:
    """True for the first run in this process: only its memory increase is its own (later runs
    reuse what earlier ones freed, and TensorFlow's first-use cost is paid once)."""
    fresh = not _PROCESS_USED
    _PROCESS_USED.append(True)
    return fresh


def run_task(task: Task, out: Path, suite: Suite, device: str | None = None, progress: bool = True) -> dict:
    """Run one task and write its record (status ok / diverged / failed, or skipped: an optional
    run whose backend is not installed); never raises for the solver's own errors."""
    path = dataset_path(task, out)
    record = _base_record(task, path)
    start = time.perf_counter()
    missing = missing_backend(task.run.solver) if task.run.optional else None
    if missing:  # an optional peer that is not installed: said in the record, redone once it is
        record.update(status="skipped", error=missing, total_s=0.0)
        write_json_atomic(out / "records" / f"{task.key}.json", record)
        return record
    try:
        dataset = load_cxi(path)
        config = solver_config(task.run.solver, task.run.options, seed=task.seed)
        load_backend(task.run.solver)
        estimate = estimate_run_bytes(task.spec, task.run.solver, config)
        record["fresh_process"] = _claim_process()
        with PeakMemory() as memory:
            rec = reconstruct(dataset, task.run.solver, config, progress=progress, device=device,
                              max_wall_s=suite.max_wall_s)
        with np.errstate(**({"over": "ignore", "invalid": "ignore"} if rec.status == "diverged" else {})):
            scores = score(dataset, rec)  # a diverged state may overflow the metrics: inf, honestly
        floor = floor_seconds(task.run.solver, dataset, config)
        save_reconstruction(rec, out / "reconstructions" / f"{task.key}.h5", str(path.resolve()))
        pd.DataFrame(rec.history).to_csv(out / "histories" / f"{task.key}.csv", index=False)
        record.update(status=rec.status, error=rec.message, iterations=rec.iterations, wall_s=rec.wall_s,
                      s_per_iteration=rec.wall_s / max(rec.iterations, 1), floor_s=floor,
                      floor_ratio=None if not floor else rec.wall_s / max(rec.iterations, 1) / floor,
                      peak_memory_mb=memory.peak_mb,
                      memory_increase_mb=memory.peak_mb - memory.start_mb,
                      memory_estimate_mb=estimate.run_bytes / 2**20 if estimate.modelled else None,
                      metrics={k: float(v) for k, v in scores.items() if isinstance(v, (int, float, np.floating))},
                      time_to_target=_times_to_target(rec.history, suite.targets),
                      device=rec.provenance.get("device", "CPU"), provenance=rec.provenance)
    except Exception as exc:  # a failing case is a result: record it, the suite carries on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                      provenance=provenance(seed=task.seed))
    record["total_s"] = time.perf_counter() - start
    write_json_atomic(out / "records" / f"{task.key}.json", record)
    return record


def _read_record(path: Path, key: str | None = None) -> dict | None:
    """The record in ``path`` (of ``key``, if given); None if torn, not JSON or not a record."""
    try:
        record = json.loads(path.read_text())
    except (ValueError, OSError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return None
    return record if key is None or record["key"] == key else None


def read_records(out: Path, keys: set[str] | None = None) -> list[dict]:
    """The readable records in ``out/records`` (those of ``keys`` if given), by file name; a torn
    file is skipped, and the temp files ``.<key>.json.*.tmp`` an interrupted write leaves are not
    records."""
    records = (_read_record(file) for file in sorted((Path(out) / "records").glob("*.json")))
    return [r for r in records if r is not None and (keys is None or r["key"] in keys)]


def done_keys(out: Path) -> set[str]:
    """Keys of the records already written and readable (a torn or a skipped one is redone)."""
    return {record["key"] for record in read_records(out) if record.get("status") != "skipped"}


def _failed_record(task: Task, out: Path, error: BaseException) -> dict:
    """The record of a task the executor could not complete (its worker kept dying)."""
    record = _base_record(task, dataset_path(task, out))
    record.update(status="failed", error=f"{type(error).__name__}: {error}".strip(),
                  provenance=provenance(seed=task.seed), total_s=0.0)
    write_json_atomic(out / "records" / f"{task.key}.json", record)
    return record


def run_task_on_worker(task: Task, out: Path, suite: Suite, device: str | None = None) -> dict:
    """``run_task`` as a cluster task: no progress bars, and a task whose record is already there
    (a retry after its worker died between writing and reporting) is not run again."""
    done = _read_record(out / "records" / f"{task.key}.json", task.key)
    return done if done is not None else run_task(task, out, suite, device, progress=False)


def run_suite(suite: Suite, out: Path, device: str | None = None, progress: bool = True,
              executor=None) -> list[dict]:
    """Run every task not yet done on ``executor`` (default: this process, one after the other;
    see cdibench.harness.executors), which is entered (a Dask cluster started) only once the datasets are
    ready; returns the records written by this call. Raises ValueError before simulating anything
    if the suite cannot run (see :func:`preflight`)."""
    out = Path(out).resolve()
    executor = executor or LocalExecutor()
    for sub in ("records", "histories", "reconstructions"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    tasks = suite.tasks()
    done = done_keys(out)
    todo = [t for t in tasks if t.key not in done]
    preflight(todo, out, executor.local_workers)
    prepare_datasets(todo, out, progress)
    if executor.remote:
        fn = functools.partial(run_task_on_worker, out=out, suite=suite, device=device)
    else:
        fn = functools.partial(run_task, out=out, suite=suite, device=device, progress=progress)
    records = []
    if not todo:
        return records
    with executor:  # a Dask cluster starts only once the suite has passed the checks
        for task, record, error in executor.map(fn, todo, progress):
            records.append(record if error is None else _failed_record(task, out, error))
    return records
