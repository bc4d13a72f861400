"""AD solvers of thin objects (TensorFlow, cdibench.ad.models.thin_model): far-field CDI with the
known support, far-field and near-field ptychography. One iteration is one epoch."""

from __future__ import annotations

from cdibench.ad.config import FitConfig
from cdibench.solvers.ad_common import (
    BATCH_TUNABLE,
    PROBE_TUNABLE,
    TUNABLE,
    ad_solver,
    batch,
    epoch_plan,
    error_bytes,
    fit_parts,
    positions_bytes,
    runtime_bytes,
    shifted,
)
from cdibench.solvers.base import C8, F4, MemoryParts


def _fft_plan(dataset, config):
    return epoch_plan(dataset, config, slice_steps=0)


def _memory(s, config, spec) -> MemoryParts:
    """Per position, complex64 (m, w, w) arrays alive at the step's peak: forward, kept for the
    backward pass, the gathered ramp, ramp x probe spectrum, the shifted probe, the patch, the
    exit wave, its far field, |far|^2 parts (2 float32 = 1); backward, the gradients of the far
    field, the wave and the patch: 10; near field adds the transfer product and its inverse FFT
    forward and one more gradient: 13, and at subpixel (or refined) positions the conjugate ramp
    and its product with the transfer function (complex64 (w, w) each: the back-shift into the
    beam's frame). The experiment's errors and position corrections: their unknowns and their
    per-position arrays (:func:`cdibench.solvers.ad_common.error_bytes`).
    """
    far = spec.geometry.detection == "far"
    w2 = s.pattern_px ** 2
    obj = F4 * s.grid[1] * s.grid[2] * 2
    probe = F4 * s.n_modes * w2 * 2
    errors, errors_per_position = error_bytes(s, config)
    trainable = obj + errors + (probe if config.refine_probe and s.n_positions > 1 else 0)
    copies, state = fit_parts(s, far, obj + probe + errors, trainable)
    back_shift = 0 if far or not shifted(s, config) else 2 * C8 * w2
    per_position = (10 if far else 13) * C8 * s.n_modes * w2 + back_shift + errors_per_position
    return MemoryParts(copies, state + positions_bytes(s, config), per_position * batch(s, config), per_position,
                       runtime_bytes(config, s.grid[0]))


def _solver(name: str, kind: str, description: str, defaults: dict, tunable: dict):
    return ad_solver(name, (kind,), FitConfig, description, "prepare", defaults=defaults,
                     fft_plan=_fft_plan, memory=_memory, tunable={**TUNABLE, **tunable})


SOLVERS = (
    _solver("ad-cdi", "cdi", "AD far-field CDI, known support (TensorFlow)",
            {"learning_rate": 0.1, "iterations": 300}, {}),
    _solver("ad-ptycho", "ptycho-far", "AD far-field ptychography (TensorFlow)",
            {"learning_rate": 0.05, "probe_learning_rate": 0.1, "decay_to": 0.2, "batch_size": 12},
            {**PROBE_TUNABLE, **BATCH_TUNABLE}),
    _solver("ad-nearfield", "ptycho-near", "AD near-field ptychography (TensorFlow)", {"learning_rate": 0.01},
            {**PROBE_TUNABLE, **BATCH_TUNABLE}),
)
