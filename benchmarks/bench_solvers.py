"""Solvers: time per iteration (warm-up untimed), accuracy at a fixed iteration budget and time to
a target accuracy, for the classical baselines and the AD solvers on the same datasets.

Every solver runs with the registry's defaults (cdibench.solvers.registry.SOLVERS) unless stated. The
std-* and paper cases are skipped unless CDIBENCH_BENCH_SLOW=1. Datasets are simulated once per
class in ``setup_cache`` (asv pickles them for every parameter's process); the ``track_``
benchmarks run their reconstructions there too, once, and read the numbers out.
"""

from __future__ import annotations

import time

import numpy as np

from cdibench import metrics  # not "from ... import time_to_target": asv would take it for a benchmark
from cdibench.metrics.evaluate import score
from cdibench.harness.floor import floor_seconds
from cdibench.simulation.simulate import simulate
from cdibench.solvers.registry import reconstruct, solver_config

from . import common, steps

SLOW_CASES = ("std-ptycho-far", "tomo-thick-du2020")
AD_SOLVERS = steps.THIN_AD + steps.VOLUME_AD


def _datasets(cases) -> dict:
    """case name -> simulated dataset, for the cases enabled now (slow ones need the switch)."""
    return {case: simulate(common.base_spec(case)) for case in cases
            if case not in SLOW_CASES or common.slow_enabled()}


def _require(cache: dict, key, solver: str) -> None:
    if key not in cache:
        raise NotImplementedError(f"{key}: slow case (set {common.SLOW_ENV}=1) or solver unavailable")
    if solver in AD_SOLVERS:
        common.require_tensorflow()


def _iteration(datasets: dict, solver: str, case: str):
    _require(datasets, case, solver)
    return steps.cached(("iteration", solver, case),
                        lambda: steps.solver_iteration(datasets[case], solver, solver_config(solver)))


def _reconstruct(ds, solver: str, **options):
    """reconstruct() with the registry's defaults updated by ``options``; None when the solver
    cannot run here (AD without TensorFlow)."""
    if solver in AD_SOLVERS:
        try:
            common.require_tensorflow()
        except NotImplementedError:
            return None
    return reconstruct(ds, solver, solver_config(solver, options), progress=False)


# ----------------------------------------------------------------------------------------------
# time per iteration


class _Iteration:
    """Shared machinery: datasets simulated once per case (setup_cache), the solver's single
    iteration built and warmed up in setup (untimed), one iteration timed."""

    param_names = ("solver", "case")

    def setup_cache(self):
        return _datasets(self.params[1])

    setup_cache.timeout = 1800

    def setup(self, datasets, solver, case):
        self.iteration = _iteration(datasets, solver, case)

    def time_iteration(self, datasets, solver, case):
        self.iteration()


class FloorRatio:
    """Seconds per iteration over the iteration's FFT floor (cdibench.harness.floor: exactly its FFTs, same
    library and shapes), both measured here and now, best of 5; 1 = nothing but FFTs. One
    parameter "solver@case" over the pairs that have a floor plan (fbp and ad-bragg have none)."""

    param_names = ("run",)
    params = (["epie@quick-ptycho-far", "rpie@quick-ptycho-far", "ad-ptycho@quick-ptycho-far",
               "hio@quick-cdi", "er@quick-cdi", "ad-cdi@quick-cdi", "ad-multislice@quick-multislice",
               "ad-tomo@quick-multislice-tomo", "ptycho-fbp@quick-multislice-tomo",
               "ad-fullfield@quick-fullfield-tomo", "epie@std-ptycho-far", "ad-ptycho@std-ptycho-far",
               "ad-tomo@tomo-thick-du2020"],)
    timeout = 600

    def setup_cache(self):
        return _datasets(sorted({run.split("@")[1] for run in self.params[0]}))

    setup_cache.timeout = 1800

    def setup(self, datasets, run):
        solver, case = run.split("@")
        self.iteration = _iteration(datasets, solver, case)
        self.floor = floor_seconds(solver, datasets[case], solver_config(solver))

    def track_floor_ratio(self, datasets, run):
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            self.iteration()
            samples.append(time.perf_counter() - start)
        return min(samples) / self.floor

    track_floor_ratio.unit = "x FFT floor"


class PtychoIteration(_Iteration):
    """Far-field ptychography: one ePIE / rPIE sweep over all positions (includes the engine's
    per-call data preparation, ~5 %), or one ad-ptycho epoch (minibatches of 12 positions, Adam)."""

    params = (["epie", "rpie", "ad-ptycho"], ["quick-ptycho-far", "std-ptycho-far"])
    timeout = 300


class CdiIteration(_Iteration):
    """Far-field CDI with a known support (quick-cdi, 64 x 64): one HIO or ER iteration, or one
    ad-cdi step."""

    params = (["hio", "er", "ad-cdi"], ["quick-cdi"])
    timeout = 300


class TomoIteration(_Iteration):
    """Thick-sample tomography (multislice-tomo): one ad-tomo epoch (every angle, all positions,
    multislice through the rotated volume) vs one iteration of the conventional pipeline (one
    ePIE sweep per angle; its final FBP runs once and is not included)."""

    params = (["ad-tomo", "ptycho-fbp"], ["quick-multislice-tomo", "tomo-thick-du2020"])
    timeout = 600


class FullfieldIteration(_Iteration):
    """Full-field tomography (quick-fullfield-tomo: 64 angles, 64^3): the whole FBP (one pass) vs
    one ad-fullfield epoch."""

    params = (["fbp", "ad-fullfield"], ["quick-fullfield-tomo"])
    timeout = 300



# ----------------------------------------------------------------------------------------------
# accuracy at a fixed budget, time to target


class PtychoAccuracy:
    """Far-field ptychography from the spec's flat-disk probe guess, 100 iterations (sweeps or
    epochs): object NRMSE after alignment in the illuminated region, and the solver's own
    seconds per iteration (its clock: warm-up and metric evaluation excluded)."""

    ITERATIONS = 100
    params = (["epie", "ad-ptycho"], ["quick-ptycho-far", "std-ptycho-far"])
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
    params = (["epie", "ad-ptycho"], [0.1, 0.05])
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
    conventional ePIE -> refocus -> FBP pipeline (50 sweeps per angle); and each run's wall time."""

    OPTIONS = {"ad-tomo": {"iterations": 10}, "ptycho-fbp": {}}
    params = (["ad-tomo", "ptycho-fbp"], ["quick-multislice-tomo", "tomo-thick-du2020"])
    timeout = 300

    def setup_cache(self):
        out = {}
        for case, ds in _datasets(self.params[1]).items():
            for solver in self.params[0]:
                rec = _reconstruct(ds, solver, **self.OPTIONS[solver])
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
