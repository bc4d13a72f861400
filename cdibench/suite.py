"""Simulate a folder of dataset specs: CXI files plus a pandas summary (the quick main job)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from cdibench.io import save_cxi
from cdibench.phantoms import Phantom
from cdibench.simulate import simulate
from cdibench.spec import load_spec


def spec_files(specs: Path, pattern: str) -> list[Path]:
    """The spec files of a folder matching ``pattern`` (or the one file given), sorted."""
    files = [specs] if specs.is_file() else sorted(specs.glob(pattern))
    if not files:
        raise ValueError(f"no spec matches {pattern!r} in {str(specs)!r}")
    return files


def summary_row(dataset, simulate_s: float, write_s: float, path: Path) -> dict:
    """One line of the summary: sizes, photons, thickness / depth of focus, timings."""
    truth = dataset.truth
    phantom = Phantom(truth.delta, truth.beta, truth.voxel_size_m, dataset.geometry.energy_kev)
    frames = dataset.intensities.reshape(-1, *dataset.pattern_shape)
    return {
        "dataset": path.stem, "kind": dataset.kind,
        "frames": f"{dataset.n_angles}x{dataset.n_positions}",
        "pattern": "x".join(map(str, dataset.pattern_shape)),
        "volume": "x".join(map(str, truth.delta.shape)),
        "pixel_nm": round(dataset.geometry.object_pixel_m * 1e9, 2),
        "photons/frame": float(np.mean(frames.sum(axis=(-2, -1)))),
        "thickness/DOF": round(phantom.dof_ratio(), 2),
        "simulate_s": round(simulate_s, 3), "write_s": round(write_s, 3),
        "MB": round(path.stat().st_size / 2**20, 2),
    }


def simulate_suite(specs: Path, out: Path, pattern: str = "quick-*.toml") -> pd.DataFrame:
    """Simulate each spec into ``out/NAME.cxi``; return the summary table."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for file in spec_files(specs, pattern):
        spec = load_spec(file)
        start = time.perf_counter()
        dataset = simulate(spec)
        simulated = time.perf_counter()
        path = out / f"{file.stem}.cxi"
        save_cxi(dataset, path)
        rows.append(summary_row(dataset, simulated - start, time.perf_counter() - simulated, path))
    return pd.DataFrame(rows)
