"""Solvers: time per iteration (warm-up untimed), accuracy at a fixed iteration budget and time to
a target accuracy, for the classical baselines and the AD solvers on the same datasets.

Which solvers each benchmark times is read from the registry by kind and backend (choose.py):
every bundled solver of the case's kind for the time per iteration and the floor ratio, the lead
classical and AD solvers of the kind for accuracy and time to target. Every solver runs with the
registry's defaults (cdibench.solvers.registry.solver_config) unless stated. The std-* and paper cases
are skipped unless CDIBENCH_BENCH_SLOW=1. Datasets are simulated once per class in
``setup_cache`` (asv pickles them for every parameter's process); the ``track_`` benchmarks run
their reconstructions there too, once, and read the numbers out.
"""

from __future__ import annotations

import time

import numpy as np

from cdibench import (
    metrics,  # not "from ... import time_to_target": asv would take it for a benchmark
)
from cdibench.harness.floor import floor_seconds
from cdibench.harness.reconstruct import reconstruct
from cdibench.metrics.evaluate import score
from cdibench.simulation import simulate
from cdibench.solvers.registry import SOLVERS, solver_config

from . import choose, common, steps

SLOW_CASES = ("std-ptycho-far", "tomo-thick-du2020")
FLOOR_CASES = ("quick-ptycho-far", "quick-cdi", "quick-multislice", "quick-multislice-tomo", "quick-fullfield-tomo",
               "std-ptycho-far", "tomo-thick-du2020")


def _datasets(cases) -> dict:
    """case name -> simulated dataset, for the cases enabled now (slow ones need the switch)."""
    return {case: simulate(common.base_spec(case)) for case in cases
            if case not in SLOW_CASES or common.slow_enabled()}


def _kind_of(case: str) -> str:
    return common.base_spec(case).kind


def _require(cache: dict, key, solver: str) -> None:
    if key not in cache:
        raise NotImplementedError(f"{key}: slow case (set {common.SLOW_ENV}=1) or solver unavailable")
    if solver:
        choose.require_backend(solver)


def _iteration(datasets: dict, solver: str, case: str):
    _require(datasets, case, solver)
    return steps.cached(("iteration", solver, case),
                        lambda: steps.solver_iteration(datasets[case], solver, solver_config(solver)))


def _reconstruct(ds, solver: str, **options):
    """reconstruct() with the registry's defaults updated by ``options``; None when the solver
    cannot run here (AD without TensorFlow)."""
    try:
        choose.require_backend(solver)
    except NotImplementedError:
        return None
    return reconstruct(ds, solver, solver_config(solver, options), progress=False)


# ----------------------------------------------------------------------------------------------
# time per iteration


class _Iteration:
    """Shared machinery: datasets simulated once per case (setup_cache), the solver's plug-in set
    up and its step warmed up in setup (untimed, steps.Iteration), one step timed. Every bundled
    solver of the case's kind that declares a step."""

    param_names = ("solver", "case")

    def setup_cache(self):
        return _datasets(self.params[1])

    setup_cache.timeout = 1800

    def setup(self, datasets, solver, case):
        self.iteration = _iteration(datasets, solver, case)

    def time_iteration(self, datasets, solver, case):
        self.iteration()


def _floor_runs() -> list[str]:
    """"solver@case" for every benchmarked solver of each floor case's kind that declares an FFT plan."""
    return [f"{name}@{case}" for case in FLOOR_CASES for name in choose.solvers(_kind_of(case))
            if SOLVERS[name].fft_plan is not None]


class FloorRatio:
    """Seconds per iteration over the iteration's FFT floor (cdibench.harness.floor: exactly its FFTs, same
    library and shapes), both measured here and now, best of 5; 1 = nothing but FFTs. One
    parameter "solver@case" over the pairs that have a floor plan (the solver declares one)."""

    param_names = ("run",)
    params = (_floor_runs(),)
    timeout = 600

    def setup_cache(self):
        return _datasets(sorted({run.split("@")[1] for run in self.params[0]}))

    setup_cache.timeout = 1800

    def setup(self, datasets, run):
        solver, case = run.split("@")
        self.iteration = _iteration(datasets, solver, case)
        self.floor = floor_seconds(solver, datasets[case], solver_config(solver))
        if self.floor is None:
            raise NotImplementedError(f"{run}: the solver has no FFT plan for this case")

    def track_floor_ratio(self, datasets, run):
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            self.iteration()
            samples.append(time.perf_counter() - start)
        return min(samples) / self.floor

    track_floor_ratio.unit = "x FFT floor"


class PtychoIteration(_Iteration):
    """Far-field ptychography: one ePIE / rPIE sweep over all positions (the engine's data
    preparation is in the untimed setup), or one ad-ptycho epoch (minibatches of 12 positions, Adam)."""

    params = (choose.solvers("ptycho-far"), ["quick-ptycho-far", "std-ptycho-far"])
    timeout = 300


class CdiIteration(_Iteration):
    """Far-field CDI with a known support (quick-cdi, 64 x 64): one HIO or ER iteration, or one
    ad-cdi step."""

    params = (choose.solvers("cdi"), ["quick-cdi"])
    timeout = 300


class TomoIteration(_Iteration):
    """Thick-sample tomography (multislice-tomo): one ad-tomo epoch (every angle, all positions,
    multislice through the rotated volume) vs one iteration of the conventional pipeline (one
    ePIE sweep per angle; its final FBP runs once and is not included)."""

    params = (choose.solvers("multislice-tomo"), ["quick-multislice-tomo", "tomo-thick-du2020"])
    timeout = 600


class FullfieldIteration(_Iteration):
    """Full-field tomography (quick-fullfield-tomo: 64 angles, 64^3): the whole FBP (one pass) vs
    one ad-fullfield epoch."""

    params = (choose.solvers("fullfield-tomo"), ["quick-fullfield-tomo"])
    timeout = 300



# ----------------------------------------------------------------------------------------------
# accuracy at a fixed budget, time to target


class PtychoAccuracy:
    """Far-field ptychography from the spec's flat-disk probe guess, 100 iterations (sweeps or
    epochs): object NRMSE after alignment in the illuminated region, and the solver's own
    seconds per iteration (its clock: warm-up and metric evaluation excluded)."""

    ITERATIONS = 100
    params = (choose.leads("ptycho-far"), ["quick-ptycho-far", "std-ptycho-far"])
    timeout = 300

    def setup_cache(self):
        out = {}
        for case, ds in _datasets(self.params[1]).items():
            for solver in self.params[0]:
                rec = _reconstruct(ds, solver, iterations=self.ITERATIONS, metrics_every=self.ITERATIONS)
                if rec is not None:
                    out[solver, case] = {"nrmse": score(ds, rec)["nrmse"],
                                         "s_per_iteration": rec.wall_s / max(rec.iterations, 1)}
        return out

    setup_cache.timeout = 1800

    def setup(self, results, solver, case):
        _require(results, (solver, case), "")

    def track_nrmse(self, results, solver, case):
        return results[solver, case]["nrmse"]

    track_nrmse.unit = "NRMSE"

    def track_seconds_per_iteration(self, results, solver, case):
        return results[solver, case]["s_per_iteration"]

    track_seconds_per_iteration.unit = "seconds"


class PtychoTimeToTarget:
    """quick-ptycho-far: seconds (solver's clock) and iterations until the object NRMSE first
    reaches the target; metrics every 5 iterations (linear interpolation of the time in between),
    at most 200 iterations; NaN (asv shows n/a) when the target is not reached."""

    MAX_ITERATIONS = 200
    METRICS_EVERY = 5
    CASE = "quick-ptycho-far"
    params = (choose.leads("ptycho-far"), [0.1, 0.05])
    param_names = ("solver", "target_nrmse")
    timeout = 300

    def setup_cache(self):
        ds = simulate(common.base_spec(self.CASE))
        out = {}
        for solver in self.params[0]:
            rec = _reconstruct(ds, solver, iterations=self.MAX_ITERATIONS, metrics_every=self.METRICS_EVERY)
            if rec is not None:
                h = rec.history
                out[solver] = {k: np.asarray(h[k]).tolist() for k in ("iteration", "wall_s", "nrmse")}
        return out

    setup_cache.timeout = 1800

    def setup(self, histories, solver, target_nrmse):
        _require(histories, solver, "")

    def track_seconds_to_nrmse(self, histories, solver, target_nrmse):
        h = histories[solver]
        seconds = metrics.time_to_target(h["wall_s"], h["nrmse"], target_nrmse)
        return float("nan") if seconds is None else seconds

    track_seconds_to_nrmse.unit = "seconds"

    def track_iterations_to_nrmse(self, histories, solver, target_nrmse):
        h = histories[solver]
        with np.errstate(invalid="ignore"):
            hits = np.flatnonzero(np.asarray(h["nrmse"]) <= target_nrmse)
        return float(h["iteration"][hits[0]]) if hits.size else float("nan")

    track_iterations_to_nrmse.unit = "iterations"


class TomoAccuracy:
    """Beyond the depth of focus (quick-multislice-tomo: thickness/DOF ~7): SSIM and NRMSE of delta
    inside the sample within the measured volume, for ad-tomo after 10 epochs and for the
    conventional ePIE -> refocus -> FBP pipeline (50 sweeps per angle); and each run's wall time.
    The lead AD and classical solvers of the kind, with AD_OPTIONS and CLASSICAL_OPTIONS."""

    AD_OPTIONS = {"iterations": 10}
    CLASSICAL_OPTIONS: dict = {}
    params = (choose.leads("multislice-tomo"), ["quick-multislice-tomo", "tomo-thick-du2020"])
    timeout = 300

    def setup_cache(self):
        out = {}
        for case, ds in _datasets(self.params[1]).items():
            for solver in self.params[0]:
                options = self.AD_OPTIONS if choose.is_ad(solver) else self.CLASSICAL_OPTIONS
                rec = _reconstruct(ds, solver, **options)
                if rec is not None:
                    scores = score(ds, rec)
                    out[solver, case] = {"ssim": scores["ssim_in"], "nrmse": scores["nrmse_in"],
                                         "wall_s": rec.wall_s}
        return out

    setup_cache.timeout = 3600

    def setup(self, results, solver, case):
        _require(results, (solver, case), "")

    def track_ssim(self, results, solver, case):
        return results[solver, case]["ssim"]

    track_ssim.unit = "SSIM"

    def track_nrmse(self, results, solver, case):
        return results[solver, case]["nrmse"]

    track_nrmse.unit = "NRMSE"

    def track_wall_seconds(self, results, solver, case):
        return results[solver, case]["wall_s"]

    track_wall_seconds.unit = "seconds"
