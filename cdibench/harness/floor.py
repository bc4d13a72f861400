"""The FFT floor of one iteration: count the FFTs an iteration must do (forward and adjoint, per
probe mode, per slice, per position), time exactly those FFTs with the same library on the same
data shapes, and compare. A solver at 1x its floor spends all its time in FFTs.

Plans (one iteration = one epoch over all positions and angles):
- AD thin models (ad-cdi, ad-ptycho, ad-nearfield), per minibatch of B positions, m modes, w x w:
  forward = [1 FFT (m) + 1 inverse FFT (B m) for subpixel probe shifts] + detector (1 FFT (B m) far,
  2 near); the backward pass repeats each once: x 2.
- AD volume models (ad-multislice, ad-tomo, ad-fullfield): the same, plus 2 FFTs (B m) per slice
  step (n_z - 1 of them, none with the projection approximation).
- ePIE/rPIE: per position an FFT pair (m) for the modulus step, plus a pair for subpixel shifts.
- HIO/ER: one FFT pair (n x n) per iteration. ptycho-fbp: the ePIE pair(s) for every angle.

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

from cdibench.physics.ptychography import split_positions
from cdibench.data.spec import sample_depth_px


def _subpixel(dataset) -> bool:
    return bool(np.any(split_positions(dataset.positions_px.reshape(-1, 2))[1]))


def _n_slices(dataset, config) -> int:
    if getattr(config, "projection_approximation", False):
        return 1
    return sample_depth_px(dataset, getattr(config, "n_slices", 0))


def fft_plan(solver: str, dataset, config) -> tuple[str, Counter] | None:
    """(library, Counter of FFT shapes -> count per iteration), or None when FFTs do not dominate."""
    m = dataset.probe_guess.shape[0]
    w = tuple(dataset.probe_guess.shape[-2:])
    n_a, n_p = dataset.n_angles, dataset.n_positions
    plan = Counter()
    if solver.startswith("ad-"):
        b = getattr(config, "batch_size", 0) or n_p
        steps = (_n_slices(dataset, config) - 1) if solver in ("ad-multislice", "ad-tomo", "ad-fullfield") else 0
        detector = 1 if dataset.geometry.detection == "far" else (2 if dataset.geometry.distance_m else 0)
        for size in [b] * (n_p // b) + ([n_p % b] if n_p % b else []):
            if _subpixel(dataset):
                plan[(m,) + w] += 2
                plan[(size, m) + w] += 2
            plan[(size, m) + w] += 2 * (detector + 2 * steps)
        return "tensorflow", Counter({k: v * n_a for k, v in plan.items()})
    if solver in ("epie", "rpie", "ptycho-fbp"):
        plan[(m,) + w] = n_a * n_p * (4 if _subpixel(dataset) else 2)
        return "scipy", plan
    if solver in ("hio", "er"):
        plan[tuple(dataset.pattern_shape)] = 2
        return "scipy", plan
    return None


def simulator_fft_plan(spec, dataset) -> tuple[str, Counter] | None:
    """FFTs of ``simulate(spec)``'s forward model (dataset: its result), or None for Bragg."""
    from cdibench.physics import coherence
    from cdibench.simulation.simulate import POSITION_CHUNK

    if spec.kind == "bragg":
        return None
    up, sub = spec.simulation.grid_upsample, spec.simulation.slices_per_voxel
    m = spec.probe.n_modes
    pad = 2 * spec.simulation.pad_px if spec.kind == "fullfield-tomo" else 0
    big = tuple((n + pad) * up for n in dataset.probe_guess.shape[-2:])
    n_z = 1 if spec.simulation.projection_approximation else spec.phantom.shape_px[0] * (up if spec.phantom.shape_px[0] > 1 else 1)
    far = spec.geometry.detection == "far"
    n_energies = 1 if far else len(coherence.spectrum(spec.geometry.energy_kev, spec.coherence)[0])
    plan = Counter()
    if spec.kind == "cdi":
        plan[(1, m) + tuple(n * spec.detector.binning for n in big)] = 1
        return "scipy", plan
    n_p = dataset.n_positions
    chunks = [POSITION_CHUNK] * (n_p // POSITION_CHUNK) + ([n_p % POSITION_CHUNK] if n_p % POSITION_CHUNK else [])
    offset = (up if n_z > 1 else 1) * sub > 1
    for c in chunks:
        if _subpixel(dataset):
            plan[(1, m) + big] += 1
            plan[(c, m) + big] += 1
        plan[(c, m) + big] += 2 * (n_z * sub - 1) + (4 if offset else 0) + (0 if far else 2 * (spec.geometry.distance_m > 0))
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
