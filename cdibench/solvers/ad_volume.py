"""AD solvers of volumes (TensorFlow, cdibench.ad.models.volume_model): single-angle multislice
ptychography, multi-angle multislice ptychography (3D beyond the depth of focus) and full-field
projection tomography. One iteration is one epoch over every angle."""

from __future__ import annotations

from cdibench.ad.config import VolumeFitConfig
from cdibench.kinds import kind
from cdibench.solvers.ad_common import (
    BATCH_TUNABLE,
    TUNABLE,
    ad_solver,
    batch,
    epoch_plan,
    error_bytes,
    fit_parts,
    positions_bytes,
    runtime_bytes,
    unrolled_slices,
)
from cdibench.solvers.base import C8, F4, MemoryParts


def _fft_plan(dataset, config):
    return epoch_plan(dataset, config, slice_steps=unrolled_slices(dataset, config) - 1)


def _memory(s, config, spec) -> MemoryParts:
    """volume_model, n_z slices of (n_y, n_x).

    State: phase and absorption float32 volumes (2 Vf), probe if refined. Working set: the
    transmission exp(-a - i phi) and its complex argument, kept, and their two gradients: 4
    complex64 volumes; the gathered slices complex64 (n_z, B, w, w); per slice and position, the
    wave, its spectrum, spectrum x kernel and the propagated wave, kept: 4 complex64 (m, w, w).
    Rotation (several angles): per volume, transpose, 4-neighbour gather, einsum, transpose back,
    kept (7 float32 volumes), and the gather's gradient (4): 2 x 11 float32 volumes.
    The projection approximation sums the rotated volume into one slice. The experiment's errors
    as in ad_thin (:func:`cdibench.solvers.ad_common.error_bytes`).
    """
    far = spec.geometry.detection == "far"
    n_z = config.n_slices or s.grid[0]
    vf = F4 * n_z * s.grid[1] * s.grid[2]
    w2 = s.pattern_px ** 2
    probe = F4 * s.n_modes * w2 * 2
    refine = config.refine_probe and kind(spec.kind).scanned
    errors, errors_per_position = error_bytes(s, config)
    copies, state = fit_parts(s, far, 2 * vf + probe + errors, 2 * vf + errors + (probe if refine else 0))
    slices = 1 if config.projection_approximation else n_z
    rotation = 2 * 11 * vf if s.n_angles > 1 else 0
    per_position = (slices * 4 + slices) * C8 * s.n_modes * w2 + errors_per_position
    working = 4 * 2 * vf * slices // n_z + rotation + per_position * batch(s, config)
    return MemoryParts(copies, state + positions_bytes(s, config), working, per_position, runtime_bytes(config, slices))


def _solver(name: str, kind_name: str, description: str, tunable: dict):
    return ad_solver(name, (kind_name,), VolumeFitConfig, description, "prepare",
                     defaults={"learning_rate": 3e-4}, fft_plan=_fft_plan, memory=_memory,
                     tunable={**TUNABLE, **tunable})


SOLVERS = (
    _solver("ad-multislice", "multislice", "AD single-angle multislice ptychography (TensorFlow)", BATCH_TUNABLE),
    _solver("ad-tomo", "multislice-tomo",
            "AD multi-angle multislice ptychography: 3D beyond the depth of focus (TensorFlow)", BATCH_TUNABLE),
    _solver("ad-fullfield", "fullfield-tomo", "AD full-field projection tomography (TensorFlow)", {}),
)
