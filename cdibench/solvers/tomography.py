"""Classical tomography (numpy, baselines.fbp and baselines.pipeline): filtered back projection of
full-field projections, and the conventional pipeline for thick samples, ePIE per angle -> refocus
-> unwrap -> FBP. Both return one result at the end: scored after the run, not during it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from cdibench import units
from cdibench.config import option
from cdibench.data.spec import sample_depth_px
from cdibench.metrics.evaluate import fit_depth
from cdibench.solvers.base import C8, F4, F8, I4, MemoryParts, Range, Solver
from cdibench.solvers.common import Prepared, reconstruction
from cdibench.solvers.pie import sweep_memory, sweep_plan


@dataclass(frozen=True)
class FbpConfig:
    filter: str = option("ram-lak", "FBP window: ram-lak, shepp-logan, cosine or hann")


@dataclass(frozen=True)
class PtychoFbpConfig:
    """Per-angle ePIE sweeps, then FBP of the unwrapped phase and log-amplitude.

    Refocusing to the rotation centre is essential for a fair conventional baseline (REGIMES.md).
    Probe refinement can move the plane ePIE reconstructs, so the best refocus_fraction may differ
    from 1: sweep it for a best-case baseline.
    """

    iterations: int = option(50, "ePIE sweeps per angle")
    alpha: float = option(1.0, "ePIE object step size")
    beta: float = option(1.0, "ePIE probe step size")
    update_probe_after: int = option(0, "sweeps before ePIE updates the probe")
    filter: str = option("ram-lak", "FBP window: ram-lak, shepp-logan, cosine or hann")
    refocus_fraction: float = option(1.0, "propagate each object by this fraction of the distance from the "
                                          "probe's plane (the sample's entrance face) to the rotation centre, "
                                          "n_slices // 2 voxels downstream (0: no refocus)")
    n_slices: int = option(0, "the sample's depth in voxels (0: as stated in the dataset's spec)")
    seed: int = option(0, "seed of the per-angle sweep orders")


def _setup_fbp(ds, config: FbpConfig, device=None) -> Prepared:
    """-log(I / I0) / (2 k dz): the projected beta, from |t|^2 = exp(-2 k dz sum beta)."""
    flat = np.abs(ds.probe_guess[0]) ** 2
    k_dz = units.wavenumber_per_m(ds.geometry.energy_kev) * ds.geometry.object_pixel_m
    frames = np.maximum(ds.intensities[:, 0], 0.5)  # zero counts: -log undefined; half a photon
    return Prepared(ds, config, -np.log(frames / flat) / (2 * k_dz))


def _fbp_volume(state: Prepared) -> np.ndarray:
    from baselines import fbp

    return fbp(state.engine, state.dataset.angles_rad, filter=state.config.filter)


def _step_fbp(state: Prepared) -> float:
    """The whole solver: one FBP (no error to return: 0)."""
    _fbp_volume(state)
    return 0.0


def _run_fbp(state: Prepared, recorder):
    beta = _fbp_volume(state)
    recorder.record(1, 0.0)
    return reconstruction("fbp", state.config, recorder,
                          beta=fit_depth(beta.astype(np.float32), sample_depth_px(state.dataset)))


def _side_vacuum(ds) -> np.ndarray:
    """Vacuum reference of the conventional pipeline: the left and right edges of the scanned
    field. A tomographic sample spans the rotation axis (y), so only the x edges are vacuum."""
    from baselines import illuminated_rim
    rim = illuminated_rim(ds.probe_guess, ds.positions_px[0], ds.object_shape)
    cols = np.flatnonzero(rim.any(axis=0))
    side = np.zeros(ds.object_shape[1], bool)
    side[: cols[0] + 3] = side[cols[-1] - 2:] = True
    return rim & side[None, :]


def _setup_ptycho_fbp(ds, config: PtychoFbpConfig, device=None) -> Prepared:
    from baselines import ptycho_fbp_setup

    dx = ds.geometry.object_pixel_m
    refocus = config.refocus_fraction * (sample_depth_px(ds, config.n_slices) // 2) * dx
    run = ptycho_fbp_setup(ds.intensities, ds.positions_px, ds.probe_guess, ds.object_shape, ds.angles_rad,
                           float(units.wavelength_m(ds.geometry.energy_kev)), dx, n_iter=config.iterations,
                           refocus_m=refocus, filter=config.filter, rng=config.seed,
                           epie_kwargs={"alpha": config.alpha, "beta": config.beta,
                                        "update_probe_after": config.update_probe_after},
                           vacuum_mask=_side_vacuum(ds))
    return Prepared(ds, config, run)


def _step_ptycho_fbp(state: Prepared) -> float:
    """One ePIE sweep at every angle -> the mean of their errors."""
    from baselines import ptycho_fbp_sweep

    return ptycho_fbp_sweep(state.engine)


def _run_ptycho_fbp(state: Prepared, recorder):
    from baselines import ptycho_fbp_finish

    config, run = state.config, state.engine
    with tqdm(total=run.n_iter, desc="ePIE sweeps, every angle", leave=False, disable=None) as bar:
        for _ in range(run.n_iter):
            _step_ptycho_fbp(state)
            bar.update(1)
    out = ptycho_fbp_finish(run)
    recorder.record(config.iterations, float(np.mean([e[-1] for e in out["errors"]])) if len(out["errors"]) else 0.0)
    n_z = sample_depth_px(state.dataset, config.n_slices)
    return reconstruction("ptycho-fbp", config, recorder, delta=fit_depth(out["delta"].astype(np.float32), n_z),
                          beta=fit_depth(out["beta"].astype(np.float32), n_z))


def _fbp_bytes(n_angles: int, n_y: int, n: int, real: int) -> tuple[int, int]:
    """baselines.fbp of (n_angles, n_y, n) projections of ``real`` bytes per value, at its peak (the
    interpolation matrix's construction; traced with tracemalloc): (matrix bytes, array bytes).

    Arrays: the weighted filtered projections, their zero-padded columns and the volume (n_a n_y n,
    n_a (n + 2) n_y, n^2 n_y values). Per (pixel, angle) pair of the inscribed disk (n^2 pi / 4
    pixels, at most baselines.fbp.PAIRS_PER_CHUNK pairs at a time): the coordinate (real), its floor int32,
    2 column indices int32, 2 weights (real), and scipy's int64 copy of the indices.
    """
    from baselines.fbp import (
        PAIRS_PER_CHUNK,  # here, not at import: baselines loads scikit-image
    )

    pixels = int(3.1416 / 4 * n * n)
    pairs = pixels * min(n_angles, max(1, PAIRS_PER_CHUNK // pixels))
    matrix = (real + I4 + 2 * I4 + 2 * real + 2 * 8) * pairs
    return matrix, real * (n_angles * n_y * n + n_angles * (n + 2) * n_y + n * n * n_y)


def _memory_fbp(s, config, spec) -> MemoryParts:
    """The clipped frames float32 and -log I float64 (set-up; divided by a numpy float64 k dz, so FBP
    runs in float64), and FBP."""
    matrix, arrays = _fbp_bytes(s.frames, s.pattern_px, s.pattern_px, F8)
    return MemoryParts((F4 + F8) * s.frames * s.pattern_px ** 2, matrix, arrays)


def _memory_ptycho_fbp(s, config, spec) -> MemoryParts:
    """Every angle's ePIE, prepared at once (the amplitudes of every angle, one angle's sqrt(I) in
    flight; each angle's object, probe and spectrum), and, at the peak in the second FBP (traced):
    the normalised object of every angle (complex64), the projected delta and beta lists and the
    stack being reconstructed (float32 (n_a, n_y, n_x) each), the delta volume (float32 n_x^2 n_y),
    and FBP in float32."""
    _, one_angle_state, working = sweep_memory(s)
    _, n_y, n_x = s.grid
    matrix, arrays = _fbp_bytes(s.n_angles, n_y, n_x, F4)
    state = (s.n_angles * one_angle_state + C8 * n_y * n_x * s.n_angles + 3 * F4 * s.n_angles * n_y * n_x
             + F4 * n_x * n_x * n_y + matrix)
    return MemoryParts(s.intensities_bytes + s.intensities_bytes // s.n_angles, state, working + arrays)


SOLVERS = (
    Solver("fbp", ("fullfield-tomo",), FbpConfig, "filtered back projection of -log I", _setup_fbp, _run_fbp,
           _step_fbp, memory=_memory_fbp, metrics_during_run=False, backend="baselines"),
    Solver("ptycho-fbp", ("multislice-tomo",), PtychoFbpConfig,
           "ePIE per angle -> refocus -> unwrap -> FBP (the conventional pipeline)", _setup_ptycho_fbp,
           _run_ptycho_fbp, _step_ptycho_fbp, fft_plan=lambda dataset, config: ("scipy", sweep_plan(dataset)),
           memory=_memory_ptycho_fbp, metrics_during_run=False, backend="baselines",
           tunable={"alpha": Range(0.01, 1.0), "beta": Range(0.01, 1.0), "refocus_fraction": Range(0.0, 1.5)}),
)
