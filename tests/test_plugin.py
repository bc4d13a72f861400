"""A solver is one plug-in: a toy solver, declared in a module written to a temporary folder and
registered the public way, runs through ``reconstruct``, the runner, the report, the FFT floor,
the memory estimate and the asv step builder, with no other edit.

The toy is HIO/ER cycles (Fienup 1982) on a far-field CDI pattern with the known support, in
plain numpy: 40 HIO + 10 ER iterations per cycle, 200 iterations from a random-phase start.
Measured on quick-cdi (Poisson noise, 1e9 photons): object NRMSE 0.00088 after alignment for
start seeds 0-4 (the registry's HIO reaches the same); the tests assert <= 0.005.
"""

import importlib.util
import math
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from cdibench.data.catalog import SHIPPED_DIR
from cdibench.data.spec import load_spec
from cdibench.harness import memory
from cdibench.harness.floor import fft_plan, floor_seconds
from cdibench.harness.reconstruct import reconstruct
from cdibench.harness.runner import read_records, run_suite
from cdibench.harness.suite import Case, Run, Suite
from cdibench.metrics.evaluate import score
from cdibench.report import load_records, summary_table
from cdibench.simulation import simulate
from cdibench.solvers import registry
from cdibench.solvers.registry import SOLVERS, solver_config

ROOT = Path(__file__).resolve().parent.parent
NAME = "toy-hio"
NRMSE_MAX = 0.005  # measured 0.00088 (noise-limited); a toy that did not converge is at ~1

TOY_SOURCE = '''
"""A toy solver plug-in: HIO/ER cycles on one CDI pattern, plain numpy."""

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft as sfft

from cdibench.data.reconstruction import Reconstruction
from cdibench.solvers.base import MemoryParts, Range, Solver


@dataclass(frozen=True)
class ToyConfig:
    iterations: int = 200
    hio_iter: int = 40
    er_iter: int = 10
    beta: float = 0.9
    metrics_every: int = 50
    seed: int = 0


def setup(dataset, config, device):
    """Unshifted amplitudes, good pixels, support and a random-phase start (untimed)."""
    amp = sfft.ifftshift(np.sqrt(dataset.intensities[0, 0])).astype(np.float32)
    mask = dataset.mask if dataset.mask.ndim == 2 else dataset.mask[0, 0]
    good = sfft.ifftshift(mask == 0)
    support = sfft.ifftshift(dataset.support.astype(bool))
    phase = np.random.default_rng(config.seed).uniform(0, 2 * np.pi, amp.shape)
    x = (sfft.ifft2(amp * np.exp(1j * phase), norm="ortho") * support).astype(np.complex64)
    return {"dataset": dataset, "config": config, "amp": amp, "good": good, "support": support, "x": x,
            "total": float(np.sum(amp[good].astype(np.float64) ** 2)), "iteration": 0}


def step(state) -> float:
    """One HIO or ER iteration (by its place in the cycle) -> the data error of the iterate."""
    config = state["config"]
    spec = sfft.fft2(state["x"], norm="ortho")
    mag = np.abs(spec)
    error = float(np.sum(((mag - state["amp"]) ** 2)[state["good"]])) / state["total"]
    y = sfft.ifft2(np.where(state["good"], spec * (state["amp"] / (mag + 1e-20)), spec), norm="ortho")
    hio = state["iteration"] % (config.hio_iter + config.er_iter) < config.hio_iter
    x = np.where(state["support"], y, state["x"] - config.beta * y) if hio else y * state["support"]
    state["x"], state["iteration"] = x.astype(np.complex64), state["iteration"] + 1
    return error


def estimate(state) -> dict:
    """The object: the exit wave inside the support over the plane-wave probe."""
    ds = state["dataset"]
    exit_wave = sfft.fftshift(state["x"] * state["support"])
    return {"object": (exit_wave * ds.support / ds.probe_guess[0]).astype(np.complex64)}


def run(state, recorder):
    config = state["config"]
    for n in range(1, config.iterations + 1):
        error = step(state)
        if recorder.record(n, error, lambda: estimate(state)):
            break
    return Reconstruction(solver="toy-hio", config=asdict(config), history=recorder.history(), **estimate(state))


def fft_plan(dataset, config):
    return "scipy", Counter({tuple(dataset.pattern_shape): 2})


def memory(shapes, config, spec):
    pixels = shapes.pattern_px ** 2
    return MemoryParts(data_copies_bytes=5 * pixels, state_bytes=9 * pixels, working_bytes=24 * pixels)


SOLVER = Solver(name="toy-hio", kinds=("cdi",), config=ToyConfig, description="toy HIO/ER cycles (a test plug-in)",
                setup=setup, run=run, step=step, fft_plan=fft_plan, memory=memory,
                tunable={"beta": Range(0.5, 1.0)})
'''


def _import_toy(folder: Path):
    """The toy module, written to ``folder`` and imported from there (never on sys.path)."""
    path = folder / "toy_hio_plugin.py"
    path.write_text(TOY_SOURCE)
    spec = importlib.util.spec_from_file_location("toy_hio_plugin", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy plug-in, registered for this module's tests and removed afterwards."""
    module = _import_toy(tmp_path_factory.mktemp("plugin"))
    registry.register(module.SOLVER)
    yield module
    SOLVERS.pop(NAME)
    sys.modules.pop("toy_hio_plugin")


@lru_cache(maxsize=None)
def _quick_cdi():
    spec = load_spec(SHIPPED_DIR / "quick-cdi.toml")
    return spec, simulate(spec)


def test_toy_is_listed_with_its_declaration(toy):
    assert SOLVERS[NAME] is toy.SOLVER
    assert solver_config(NAME, {"beta": 0.8}) == toy.ToyConfig(beta=0.8)


def test_toy_reconstructs_quick_cdi(toy):
    _, ds = _quick_cdi()
    rec = reconstruct(ds, NAME, solver_config(NAME), progress=False)
    assert rec.status == "ok" and rec.iterations == 200
    assert np.all(np.diff(rec.history["wall_s"]) >= 0)
    assert np.isfinite(rec.history["nrmse"][-1])  # metrics evaluated during the run
    assert score(ds, rec)["nrmse"] <= NRMSE_MAX


def test_toy_runs_through_the_runner_and_the_report(toy, tmp_path):
    spec, _ = _quick_cdi()
    suite = Suite("toy", (Case("quick-cdi", spec, (Run(NAME, "toy", {"iterations": 200}),)),))
    run_suite(suite, tmp_path, progress=False)
    (record,) = read_records(tmp_path)
    assert record["status"] == "ok", record.get("error")
    assert record["solver"] == NAME and record["iterations"] == 200
    assert record["metrics"]["nrmse"] <= NRMSE_MAX
    assert record["floor_s"] > 0 and record["floor_ratio"] > 0
    config = solver_config(NAME, {"iterations": 200}, seed=0)
    assert record["memory_estimate_mb"] == pytest.approx(
        memory.estimate_run_bytes(spec, NAME, config).run_bytes / 2**20)
    table = summary_table(load_records(tmp_path))
    row = table[(table["case"] == "quick-cdi") & (table["label"] == "toy")]
    assert len(row) == 1
    assert row["metric.nrmse"].iloc[0] == pytest.approx(record["metrics"]["nrmse"])


def test_toy_floor_is_its_fft_plan(toy):
    """The floor times exactly the FFTs the toy declares: one 64 x 64 pair per iteration."""
    _, ds = _quick_cdi()
    config = solver_config(NAME)
    assert fft_plan(NAME, ds, config) == toy.fft_plan(ds, config) == ("scipy", Counter({(64, 64): 2}))
    seconds = floor_seconds(NAME, ds, config)
    assert seconds is not None and 0 < seconds < 1


def test_toy_memory_estimate_is_its_memory_terms(toy):
    spec, _ = _quick_cdi()
    config = solver_config(NAME)
    estimate = memory.estimate_run_bytes(spec, NAME, config)
    pixels = 64 * 64
    assert estimate.modelled
    assert (estimate.data_copies_bytes, estimate.state_bytes, estimate.working_bytes) == (5 * pixels, 9 * pixels,
                                                                                      24 * pixels)
    assert estimate.runtime_bytes == 0 and estimate.per_position_bytes == 0
    assert estimate.metrics_bytes > 0  # metrics during the run: by kind, as for every solver
    assert estimate.total_bytes == estimate.dataset_bytes + estimate.run_bytes


def test_toy_asv_step_builder_calls_its_step(toy):
    """benchmarks/steps.solver_iteration: the toy's setup once, its step once to warm up, then
    one step per call on the same state."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks import choose, steps

    assert NAME in choose.solvers("cdi") and not choose.is_ad(NAME)  # the asv suite picks it up by kind
    _, ds = _quick_cdi()
    iteration = steps.solver_iteration(ds, NAME, solver_config(NAME))
    assert iteration.state["iteration"] == 1
    errors = [iteration() for _ in range(3)]
    assert iteration.state["iteration"] == 4
    assert all(math.isfinite(e) and e > 0 for e in errors)
