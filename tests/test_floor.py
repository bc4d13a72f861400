"""FFT floor plans: the FFT count of one iteration per solver (timing itself is not tested)."""

from pathlib import Path

import numpy as np

from cdibench.floor import fft_plan, floor_seconds
from cdibench.simulate import simulate
from cdibench.solvers import solver_config
from cdibench.spec import load_spec

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


def test_ptychography_plans():
    ds = simulate(load_spec(DATASETS / "quick-ptycho-far.toml"))  # 36 positions, subpixel, 64x64
    library, plan = fft_plan("ad-ptycho", ds, solver_config("ad-ptycho", {"batch_size": 12}))
    assert library == "tensorflow"
    # 3 minibatches: probe spectrum (x2) + shifted probes (x2) + far field (x2)
    assert plan == {(1, 64, 64): 6, (12, 1, 64, 64): 12}
    library, plan = fft_plan("epie", ds, solver_config("epie"))
    assert library == "scipy" and plan == {(1, 64, 64): 36 * 4}
    assert floor_seconds("epie", ds, solver_config("epie")) > 0


def test_multislice_plan_counts_slices():
    ds = simulate(load_spec(DATASETS / "quick-multislice.toml"))  # 16 positions, 32 slices, integer positions
    assert not np.any(ds.positions_px % 1)
    _, plan = fft_plan("ad-multislice", ds, solver_config("ad-multislice"))
    assert plan == {(16, 1, 32, 32): 2 * (1 + 2 * 31)}
    _, projection = fft_plan("ad-multislice", ds, solver_config("ad-multislice", {"projection_approximation": True}))
    assert projection == {(16, 1, 32, 32): 2}


def test_no_plan_for_fbp():
    ds = simulate(load_spec(DATASETS / "quick-fullfield-tomo.toml"))
    assert fft_plan("fbp", ds, solver_config("fbp")) is None
