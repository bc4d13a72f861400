"""Reconstruction results and the per-iteration recorder every solver uses.

A solver returns a :class:`Reconstruction`; its ``history`` has one row per recorded iteration with
the loss, the wall time since the start (metric evaluation excluded) and, every k iterations, the
metrics against the ground truth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from cdibench.data.atomic import atomic_write

STATUSES = ("ok", "diverged", "failed")
_ARRAYS = ("object", "probe", "delta", "beta", "positions_px", "flux_scale", "background")


@dataclass(frozen=True)
class Reconstruction:
    """What a solver produced.

    object: complex64 (n_y, n_x) thin-object / CDI exit-wave estimate, or None.
    probe: complex64 (n_modes, n_y, n_x) or None. delta, beta: float32 (n_z, n_y, n_x) volume
    estimates (3D solvers) or None. positions_px: float64 (n_angles, n_pos, 2) refined positions or
    None. flux_scale: float32 (n_angles, n_pos) refined per-frame flux factors (mean 1) or None.
    background: float32 (n_y, n_x) refined detector background [photons per pixel and frame],
    zero frequency at the centre pixel like the data, or None. history: column name -> float64 array, all of one length (iteration, loss, wall_s, metrics;
    NaN where a metric was not evaluated). status: "ok", "diverged" (last finite state kept) or
    "failed".
    """

    solver: str
    config: dict
    object: np.ndarray | None = None
    probe: np.ndarray | None = None
    delta: np.ndarray | None = None
    beta: np.ndarray | None = None
    positions_px: np.ndarray | None = None
    flux_scale: np.ndarray | None = None
    background: np.ndarray | None = None
    history: dict = field(default_factory=dict)
    status: str = "ok"
    message: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status = {self.status!r} is invalid: expected one of {STATUSES}")

    @property
    def iterations(self) -> int:
        it = self.history.get("iteration")
        return int(it[-1]) if it is not None and len(it) else 0

    @property
    def wall_s(self) -> float:
        wall = self.history.get("wall_s")
        return float(wall[-1]) if wall is not None and len(wall) else 0.0


class Recorder:
    """Collects the history of an iterative solver.

    metric_fn(estimate) -> dict of floats is evaluated every ``every`` iterations, at the last
    (``total``) and when the time budget ``max_wall_s`` runs out, on ``estimate_fn()``; its time is
    excluded from wall_s, so accuracy checks never slow the clock. ``record`` returns True when the
    solver should stop (budget spent): baselines' callbacks pass it on, the AD loop checks it.
    ``progress`` is an optional tqdm bar advanced once per iteration.
    """

    def __init__(self, metric_fn: Callable[[object], dict] | None = None, every: int = 10, progress=None,
                 total: int | None = None, max_wall_s: float | None = None):
        self.metric_fn, self.every, self.progress = metric_fn, max(int(every), 1), progress
        self.total, self.max_wall_s = total, max_wall_s
        self.rows: list[dict] = []
        self._start = time.perf_counter()
        self._paused = 0.0

    def restart(self):
        """Start the clock now (after untimed set-up or warm-up)."""
        self._start, self._paused = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._paused

    def record(self, iteration: int, loss: float, estimate_fn: Callable[[], object] | None = None,
               force_metrics: bool = False) -> bool:
        row = {"iteration": float(iteration), "loss": float(loss), "wall_s": self.elapsed()}
        stop = self.max_wall_s is not None and row["wall_s"] >= self.max_wall_s
        last = stop or force_metrics or iteration == self.total
        if self.metric_fn is not None and estimate_fn is not None and (last or iteration % self.every == 0):
            paused = time.perf_counter()
            row.update(self.metric_fn(estimate_fn()))
            self._paused += time.perf_counter() - paused
        self.rows.append(row)
        if self.progress is not None:
            self.progress.update(1)
            self.progress.set_postfix(loss=f"{loss:.4g}", refresh=False)
        return stop

    def history(self) -> dict[str, np.ndarray]:
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        return {k: np.array([row.get(k, np.nan) for row in self.rows], dtype=np.float64) for k in keys}


def save_reconstruction(rec: Reconstruction, path: str | Path, dataset_path: str | None = None) -> Path:
    """Write an HDF5 file atomically: arrays, history, config, status, provenance, dataset path."""
    path = Path(path)
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["solver"], f.attrs["status"], f.attrs["message"] = rec.solver, rec.status, rec.message
        f.attrs["config"] = json.dumps(rec.config)
        f.attrs["provenance"] = json.dumps(rec.provenance)
        f.attrs["dataset"] = "" if dataset_path is None else str(dataset_path)
        for name in _ARRAYS:
            if getattr(rec, name) is not None:
                f[name] = getattr(rec, name)
        hist = f.create_group("history")
        for key, values in rec.history.items():
            hist[key] = values
    return path


def load_reconstruction(path: str | Path) -> tuple[Reconstruction, str]:
    """Read a reconstruction file; returns it and the dataset path it was made from ('' if unknown)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            arrays = {name: f[name][()] for name in _ARRAYS if name in f}
            history = {k: v[()] for k, v in f["history"].items()}
            rec = Reconstruction(solver=str(f.attrs["solver"]), config=json.loads(f.attrs["config"]),
                                 history=history, status=str(f.attrs["status"]),
                                 message=str(f.attrs["message"]),
                                 provenance=json.loads(f.attrs["provenance"]), **arrays)
            return rec, str(f.attrs["dataset"])
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: not a cdibench reconstruction file ({exc})") from None
