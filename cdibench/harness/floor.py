"""The FFT floor of one iteration: count the FFTs an iteration must do (forward and adjoint, per
probe mode, per slice, per position), time exactly those FFTs with the same library on the same
data shapes, and compare. A solver at 1x its floor spends all its time in FFTs.

Each solver plug-in declares its plan (``Solver.fft_plan``: one iteration = one epoch over all
positions and angles; see its module for the count); solvers without one (FFTs do not dominate)
have no floor.

The simulator's forward model (noise-free intensities, all angles) has a floor too
(:func:`simulator_fft_plan`): per angle, energy and chunk of positions on the fine grid (window x
grid_upsample), 1 + 1 FFTs for subpixel probe shifts, 2 per multislice step and per focus offset,
and the detector's 1 (far, padded by the binning) or 2 (near).
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np

from cdibench.kinds import kind
from cdibench.solvers.common import subpixel
from cdibench.solvers.registry import get_solver


def fft_plan(solver: str, dataset, config) -> tuple[str, Counter] | None:
    """(library, Counter of FFT shapes -> count per iteration) of solver ``solver``, or None when
    FFTs do not dominate (its plug-in declares no plan)."""
    plan = get_solver(solver).fft_plan
    return None if plan is None else plan(dataset, config)


def simulator_fft_plan(spec, dataset) -> tuple[str, Counter] | None:
    """FFTs of ``simulate(spec)``'s forward model (dataset: its result), or None for Bragg."""
    from cdibench.physics import coherence
    from cdibench.simulation.transmission import POSITION_CHUNK

    traits = kind(spec.kind)
    if traits.crystal:
        return None
    up, sub = spec.simulation.grid_upsample, spec.simulation.slices_per_voxel
    m = spec.probe.n_modes
    pad = 2 * spec.simulation.pad_px if not (traits.scanned or traits.thin) else 0
    big = tuple((n + pad) * up for n in dataset.probe_guess.shape[-2:])
    n_z = 1 if spec.simulation.projection_approximation else spec.phantom.shape_px[0] * (up if spec.phantom.shape_px[0] > 1 else 1)
    far = spec.geometry.detection == "far"
    n_energies = 1 if far else len(coherence.spectrum(spec.geometry.energy_kev, spec.coherence)[0])
    plan = Counter()
    if traits.thin and not traits.scanned:  # one pattern (CDI)
        plan[(1, m) + tuple(n * spec.detector.binning for n in big)] = 1
        return "scipy", plan
    n_p = dataset.n_positions
    chunks = [POSITION_CHUNK] * (n_p // POSITION_CHUNK) + ([n_p % POSITION_CHUNK] if n_p % POSITION_CHUNK else [])
    offset = (up if n_z > 1 else 1) * sub > 1
    for c in chunks:
        if subpixel(dataset):
            plan[(1, m) + big] += 1
            plan[(c, m) + big] += 1
        detector = 0 if far else 2 * (spec.geometry.distance_m > 0 or subpixel(dataset))  # contact: the back-shift
        plan[(c, m) + big] += 2 * (n_z * sub - 1) + (4 if offset else 0) + detector
        if far:
            plan[(c, m) + tuple(n * spec.detector.binning for n in big)] += 1
    return "scipy", Counter({k: v * n_energies * dataset.n_angles for k, v in plan.items() if v})


def best_time(fn, repeats: int = 5, min_total_s: float = 0.2) -> float:
    """Fastest of at least ``repeats`` timed calls, repeated until ``min_total_s`` has been timed.

    A floor only ever errs towards too high (a slow call), which flatters every ratio over it: in a
    fresh process the first ~0.1 s of FFTs ran up to 1.7x slow (5 repeats of a 10 ms plan missed it
    once in five processes), so short plans are repeated for a minimum time."""
    fn()
    times = []
    while len(times) < repeats or sum(times) < min_total_s:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _timer(library: str, shape: tuple[int, ...], count: int):
    data = (np.random.default_rng(0).standard_normal(shape + (2,)).view(np.complex128)[..., 0]
            .astype(np.complex64))
    if library == "tensorflow":
        from cdibench.ad.devices import fft_timer
        return fft_timer(data, count)
    from baselines._fft import fft2

    def run():
        for _ in range(count):
            fft2(data)
    return run


def plan_seconds(found: tuple[str, Counter] | None) -> float | None:
    """Seconds the FFTs of a plan take on this machine (fastest timed call per shape, see
    :func:`best_time`), None without a plan."""
    if found is None:
        return None
    library, plan = found
    return math.fsum(best_time(_timer(library, shape, count)) for shape, count in plan.items())


def floor_seconds(solver: str, dataset, config) -> float | None:
    """Seconds one iteration's FFTs take on this machine (see :func:`plan_seconds`), or None without a plan.

    TensorFlow FFTs of one shape run in one graph (dispatch paid once, as in the compiled step);
    scipy's in a Python loop, as the baselines call them."""
    return plan_seconds(fft_plan(solver, dataset, config))
