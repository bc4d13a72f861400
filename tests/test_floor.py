"""FFT floor plans: the FFT count of one iteration per solver (timing itself is not tested)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.fft as sfft

import cdibench.simulation.transmission as sim
from cdibench.data.spec import load_spec
from cdibench.harness.floor import fft_plan, floor_seconds, simulator_fft_plan
from cdibench.simulation import simulate
from cdibench.solvers.registry import solver_config

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


@pytest.mark.parametrize("name", ["quick-ptycho-far", "quick-ptycho-near", "quick-multislice", "quick-cdi"])
def test_simulator_plan_is_the_ffts_the_forward_model_calls(name, monkeypatch):
    """Count every scipy FFT that the forward model (``_expected_intensities``) calls and compare with
    the plan: the same 2D sizes and the same total work (elements transformed); the plan may group
    one call of all positions as per-chunk calls."""
    spec = load_spec(DATASETS / f"{name}.toml")
    calls, inside = [], []
    real = {k: getattr(sfft, k) for k in ("fft2", "ifft2")}
    for k, fn in real.items():
        monkeypatch.setattr(sfft, k, lambda x, *a, _fn=fn, **kw: (inside and calls.append(x.shape), _fn(x, *a, **kw))[1])
    forward = sim._expected_intensities
    monkeypatch.setattr(sim, "_expected_intensities", lambda *a, **kw: (inside.append(1), forward(*a, **kw))[1])
    ds = simulate(spec, progress=False)
    library, plan = simulator_fft_plan(spec, ds)
    assert library == "scipy" and calls
    assert {s[-2:] for s in calls} == {s[-2:] for s in plan}
    assert sum(np.prod(s) for s in calls) == sum(np.prod(s) * n for s, n in plan.items())
