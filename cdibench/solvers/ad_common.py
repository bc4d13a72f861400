"""What the AD plug-ins (ad_thin, ad_volume, ad_bragg) share: the declaration of an AD solver over
the TensorFlow side (cdibench.ad.solvers, imported only when a solver is set up, so the registry
stays free of TensorFlow), the FFT plan of an epoch, and the memory terms of the fit loop.

Memory: each part is a count of arrays read off cdibench/ad (fit.py, models.py, bragg.py), times
their size. Four terms are measured, not derived, and named as such (``MEASURED_*``).
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from cdibench.data.spec import sample_depth_px
from cdibench.solvers.base import F4, I4, Range, Solver
from cdibench.solvers.common import Prepared, reconstruction, subpixel

# Measured, fresh process per run (notes in tests/test_memory.py): the resident-set growth of the
# smallest AD run (16 x 16 patterns, 9 positions, 40 x 40 object: its arrays < 0.5 MiB) -- eager
# context, thread pools, the traced step graph and its gradient.
MEASURED_TF_RUNTIME_BYTES = 19 * 2**20
# Measured: an unrolled multislice step adds ~20 forward and backward graph ops per slice, whose
# traced FuncGraph and kernels cost this much beyond the slice's arrays (32 vs 8 slices, same B).
MEASURED_GRAPH_BYTES_PER_SLICE = 600 * 2**10
# Measured (quick suite, `cdibench run quick --executor isolated`, XLA on vs the estimate without
# these terms): XLA's compiler and the compiled epoch (a while loop over the minibatches) cost
# ~115 MiB for one-slice models (ad-cdi, ad-ptycho, ad-nearfield, projection ad-tomo, ad-bragg:
# 96-128 MiB) plus ~2.8 MiB per unrolled multislice step (32, 48, 64 slices). Calibrated on that
# suite: its ratios there are a fit, not an independent check (the paper suite is one).
MEASURED_XLA_BYTES = 115 * 2**20
MEASURED_XLA_BYTES_PER_SLICE = 2.8 * 2**20

#: Tunable ranges every AD solver shares (issue [5/7]); plug-ins add theirs.
TUNABLE = {"learning_rate": Range(1e-4, 1.0, log=True), "decay_to": Range(0.05, 1.0)}
PROBE_TUNABLE = {"probe_learning_rate": Range(1e-4, 1.0, log=True)}
BATCH_TUNABLE = {"batch_size": Range(1, 256, log=True, integer=True)}


def _setup(prepare: str, dataset, config, device) -> Prepared:
    from cdibench.ad import solvers

    return Prepared(dataset, config, getattr(solvers, prepare)(dataset, config, device))


def _run(name: str, state: Prepared, recorder):
    from cdibench.ad import solvers

    result, estimate, device = solvers.run(state.engine, recorder)
    return reconstruction(name, state.config, recorder, status=result.status, message=result.message,
                          provenance={"device": device}, **estimate)


def _step(state: Prepared) -> float:
    from cdibench.ad import solvers

    return solvers.step(state.engine)


def ad_solver(name: str, kinds: tuple[str, ...], config: type, description: str, prepare: str, **declared) -> Solver:
    """An AD solver whose set-up is ``cdibench.ad.solvers.<prepare>(dataset, config, device)``;
    ``declared``: the other Solver fields (defaults, fft_plan, memory, tunable)."""
    return Solver(name, kinds, config, description, partial(_setup, prepare), partial(_run, name), _step,
                  backend="cdibench.ad.solvers", **declared)


def epoch_plan(dataset, config, slice_steps: int) -> tuple[str, Counter]:
    """FFTs of one epoch, per minibatch of B positions, m modes, w x w: forward = [1 FFT (m) + 1
    inverse FFT (B m) for subpixel probe shifts or refined positions] + detector (1 FFT (B m) far, 2 near, 0 contact
    unless subpixel: the back-shift into the beam's frame) + 2 FFTs (B m) per slice step; the
    backward pass repeats each once: x 2."""
    m = dataset.probe_guess.shape[0]
    w = tuple(dataset.probe_guess.shape[-2:])
    n_p = dataset.n_positions
    b = config.batch_size or n_p
    shifted = subpixel(dataset) or config.refine_positions
    detector = 1 if dataset.geometry.detection == "far" else (2 if dataset.geometry.distance_m or shifted else 0)
    plan = Counter()
    for size in [b] * (n_p // b) + ([n_p % b] if n_p % b else []):
        if shifted:
            plan[(m,) + w] += 2
            plan[(size, m) + w] += 2
        plan[(size, m) + w] += 2 * (detector + 2 * slice_steps)
    return "tensorflow", Counter({k: v * dataset.n_angles for k, v in plan.items()})


def unrolled_slices(dataset, config) -> int:
    """Slices of a volume model's step (1 with the projection approximation)."""
    if config.projection_approximation:
        return 1
    return sample_depth_px(dataset, config.n_slices)


def batch(s, config) -> int:
    """Positions per step."""
    return min(config.batch_size or s.n_positions, s.n_positions)


def fit_parts(s, far: bool, var_bytes: int, trainable_bytes: int) -> tuple[int, int]:
    """Data copies and state of cdibench.ad.fit.

    Copies: far field ifftshifts the intensities (1 copy, kept), ``astype`` copies them (transient)
    and ``tf.constant`` holds one more: 3 (near field: 2); mask: its shifted copy and float weights.
    State: variables V, Adam moments 2T, gradients T, the warm-up snapshot of variables and moments
    (numpy) 3T, the ``last_finite`` copy of every variable V: 2V + 6T.
    """
    copies = (3 if far else 2) * s.intensities_bytes + 2 * F4 * s.pattern_px ** 2
    return copies, 2 * var_bytes + 6 * trainable_bytes


def error_bytes(s, config) -> tuple[int, int]:
    """The experiment's errors (cdibench.ad.errors): their unknowns, float32 flux scales (n_a, n_p),
    background (w, w) and position corrections (n_a, n_p, 2) (their Adam state: fit_parts), and per
    position the scaled or shifted float32 (w, w) intensity the flux and background terms keep for
    the backward pass, and the position term's gradient of the shift ramp (complex64 (w, w): 2)."""
    terms = [(s.frames, 1, config.refine_flux), (s.pattern_px ** 2, 1, config.refine_background),
             (2 * s.frames, 2, config.refine_positions)]
    return (F4 * sum(n for n, _, on in terms if on),
            F4 * s.pattern_px ** 2 * sum(k for _, k, on in terms if on))


def shifted(s, config) -> bool:
    """Whether the models build Fourier shift ramps: subpixel recorded positions, or refined ones."""
    return s.subpixel or config.refine_positions


def positions_bytes(s, config) -> int:
    """Patch gather indices int32 (n_a, n_p, w^2) and, for subpixel or refined positions, their
    fractions float32 (n_a, n_p, 2) (the ramps are built per minibatch: in the working set)."""
    return I4 * s.frames * s.pattern_px ** 2 + (F4 * 2 * s.frames if shifted(s, config) else 0)


def runtime_bytes(config, slices: int) -> int:
    """TensorFlow's measured fixed costs for a step of ``slices`` unrolled slices (XLA if on)."""
    runtime = MEASURED_TF_RUNTIME_BYTES + MEASURED_GRAPH_BYTES_PER_SLICE * (slices - 1)
    if config.jit_compile:
        runtime += MEASURED_XLA_BYTES + int(MEASURED_XLA_BYTES_PER_SLICE * (slices - 1))
    return runtime
