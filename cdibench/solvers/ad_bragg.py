"""The AD solver of multi-angle Bragg ptychography (TensorFlow, cdibench.ad.bragg.bragg_model):
the complex 3D crystal with the known probe. One iteration is one epoch over every rocking angle."""

from __future__ import annotations

from cdibench.ad.bragg_config import BraggFitConfig
from cdibench.solvers.ad_common import (
    BATCH_TUNABLE,
    TUNABLE,
    ad_solver,
    batch,
    epoch_plan,
    fit_parts,
    runtime_bytes,
)
from cdibench.solvers.base import C8, F4, MemoryParts, Range


def _fft_plan(dataset, config):
    return epoch_plan(dataset, config, slice_steps=0)


def _memory(s, config, spec) -> MemoryParts:
    """bragg_model, crystal (n_z, w, w).

    State: crystal re/im float32 (T = 2 Vf), the sheared probe columns complex64 (n_p, m, n_z, w, w),
    rocking ramps complex64 (n_a, n_z, w, w). Working set per position, complex64 (m, n_z, w, w):
    the gathered columns (kept), their product with the crystal, the product's gradient and the
    gradients towards both factors: 5. The step sums the columns into one slice: no unrolled graph.
    """
    n_z = config.n_slices or s.grid[0]
    column = C8 * s.n_modes * n_z * s.pattern_px ** 2
    vf = F4 * n_z * s.pattern_px ** 2
    copies, state = fit_parts(s, True, 2 * vf, 2 * vf)
    constants = column * s.n_positions + 2 * vf * s.n_angles
    return MemoryParts(copies, state + constants, 5 * column * batch(s, config), 5 * column, runtime_bytes(config, 1))


SOLVERS = (
    ad_solver("ad-bragg", ("bragg",), BraggFitConfig,
              "AD multi-angle Bragg ptychography: the complex 3D crystal (TensorFlow)", "prepare_bragg",
              defaults={"learning_rate": 0.02, "iterations": 200, "shrinkwrap_threshold": 0.2, "shrinkwrap_after": 20},
              fft_plan=_fft_plan, memory=_memory,
              tunable={**TUNABLE, **BATCH_TUNABLE, "shrinkwrap_threshold": Range(0.05, 0.5),
                       "shrinkwrap_sigma_px": Range(0.5, 3.0), "shrinkwrap_after": Range(0, 100, integer=True)}),
)
