"""How much memory a run takes, estimated from its DatasetSpec and solver config before it starts.

Pure arithmetic on the spec and the frozen config: nothing is allocated, TensorFlow is not
imported, so a suite is checked in microseconds (``cdibench.harness.runner.preflight``).

What the estimate predicts. ``MemoryEstimate.run_bytes`` is the growth of the resident set while
the solver runs (``reconstruct``: the solve plus its per-iteration metrics), over the resident set
once the dataset is loaded and the solver's backend imported: the runner's ``memory_increase_mb``.
``total_bytes`` adds the dataset as loaded: what must fit in the memory available.

Each part is a count of arrays read off the code (cdibench/ad/fit.py, models.py, bragg.py,
baselines/), times their size; the counts are stated next to each term. Four terms are measured,
not derived, and named as such (``MEASURED_*``): TensorFlow's first-use cost, the per-slice cost
of tracing an unrolled multislice graph, XLA's compilation, and the metrics evaluation against
the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

C8, F4, F8, I4 = 8, 4, 8, 4  # bytes of complex64, float32, float64, int32/uint32

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
# Measured: resident-set growth of the metrics evaluations (alignment, NRMSE, SSIM) of a run, a
# fixed part plus a part per element of the ground truth, by kind. Thin kinds from whole numpy runs
# at two sizes, minus their counted arrays: cdi (HIO, 64^2 and 256^2: 4.5 and 37.5 MiB; 4 alignment
# candidates, twin x shift or not, in complex128), ptycho (ePIE, 112^2 and 324^2: 8.3 and 54.5 MiB).
# Volume kinds at one size (quick suite, estimate = 0.9 x truth): per element only.
MEASURED_METRICS_FIXED_BYTES = {"cdi": int(2.3 * 2**20), "ptycho-far": 2 * 2**20, "ptycho-near": 2 * 2**20}
MEASURED_METRICS_BYTES_PER_ELEMENT = {"cdi": 563, "ptycho-far": 524, "ptycho-near": 524,
                                      "multislice": 52, "multislice-tomo": 52, "fullfield-tomo": 138,
                                      "bragg": 2080}

BASELINES = ("hio", "er", "epie", "rpie", "ptycho-fbp", "fbp")
# One result at the end and no per-iteration metrics: they are scored after ``reconstruct`` returns
# (cdibench.harness.runner), outside the span whose memory the estimate predicts.
NO_RUN_METRICS = ("ptycho-fbp", "fbp")
# Measured: resident growth of a run beyond its arrays as tracemalloc counts them (allocator arenas,
# first-touch pages, code first used), 2.4-3.7 MiB for fbp (64^3 with 32, 64, 128 angles; 96^3) and
# ptycho-fbp (quick suite). Only runs without per-iteration metrics carry it as a term: the metrics
# constants were measured on whole runs and include it.
MEASURED_RUN_OVERHEAD_BYTES = 3 * 2**20
AD_SOLVERS = ("ad-cdi", "ad-ptycho", "ad-nearfield", "ad-multislice", "ad-tomo", "ad-fullfield", "ad-bragg")


@dataclass(frozen=True)
class MemoryEstimate:
    """Parts of a run's memory, in bytes.

    dataset_bytes: the Dataset as loaded (intensities, mask, positions, probe, truth), held before
        the run starts (not part of ``run_bytes``).
    data_copies_bytes: the solver's own copies of the intensities and mask.
    state_bytes: variables, optimiser moments, gradients, snapshots, precomputed constants.
    working_bytes: one step's arrays alive at its peak (AD: kept for the backward pass).
    metrics_bytes: one metrics evaluation against the ground truth (measured per element).
    runtime_bytes: fixed first-use costs of the backend (measured; 0 for numpy baselines).
    per_position_bytes: the part of working_bytes that scales with the batch (AD: per position of a
        step), for suggesting a batch size that fits.
    modelled: False for solvers whose memory is not modelled (peers): the estimate is then a lower
        bound, good for refusing a run but not a prediction to compare with a measurement.
    """

    dataset_bytes: int
    data_copies_bytes: int
    state_bytes: int
    working_bytes: int
    metrics_bytes: int
    runtime_bytes: int
    per_position_bytes: int
    modelled: bool = True

    @property
    def arrays_bytes(self) -> int:
        """The derived part only: data copies, state and working set (no measured term)."""
        return self.data_copies_bytes + self.state_bytes + self.working_bytes

    @property
    def run_bytes(self) -> int:
        """Predicted growth during the run: what ``memory_increase_mb`` measures."""
        return self.arrays_bytes + self.metrics_bytes + self.runtime_bytes

    @property
    def total_bytes(self) -> int:
        """Dataset plus run: what must fit in the memory available."""
        return self.dataset_bytes + self.run_bytes


@dataclass(frozen=True)
class Shapes:
    """Sizes read off a spec: angles, positions per angle, pattern w (w x w), probe modes, the
    reconstruction grid (n_z, n_y, n_x), and whether recorded positions are subpixel."""

    n_angles: int
    n_positions: int
    pattern_px: int
    n_modes: int
    grid: tuple[int, int, int]
    subpixel: bool

    @property
    def frames(self) -> int:
        return self.n_angles * self.n_positions

    @property
    def intensities_bytes(self) -> int:
        return F4 * self.frames * self.pattern_px ** 2

    @property
    def voxels(self) -> int:
        return self.grid[0] * self.grid[1] * self.grid[2]


def n_positions(spec) -> int:
    """Scan positions per angle (1 for CDI and full-field kinds)."""
    if spec.kind in ("cdi", "fullfield-tomo"):
        return 1
    scan = getattr(spec, "scan", None)
    kind = getattr(scan, "type", "single")
    if kind == "raster":
        return int(scan.shape[0]) * int(scan.shape[1])
    if kind == "fermat":
        return int(scan.n_positions)
    return 1


def n_angles(spec) -> int:
    """Tomographic angles, or rocking angles of kind 'bragg'."""
    if spec.kind == "bragg":
        return int(spec.bragg.n_rocking)
    return int(getattr(getattr(spec, "tomography", None), "n_angles", 1))


def intensities_shape(spec) -> tuple[int, int, int, int]:
    """(n_angles, n_positions, pattern_px, pattern_px) of the dataset's float32 intensities."""
    pattern = int(spec.geometry.pattern_px)
    return n_angles(spec), n_positions(spec), pattern, pattern


def shapes(spec) -> Shapes:
    """The sizes every estimate below needs, from the spec alone."""
    probe = getattr(spec, "probe", None)
    single = spec.kind in ("cdi", "fullfield-tomo") or getattr(probe, "guess", "true") == "flat"
    scan = getattr(spec, "scan", None)
    step = getattr(scan, "step_px", None)
    subpixel = spec.kind not in ("cdi", "fullfield-tomo", "bragg") and (
        getattr(scan, "type", "single") == "fermat" or getattr(scan, "random_offset_px", 0) > 0
        or step is None or float(step) % 1 != 0)
    return Shapes(n_angles(spec), n_positions(spec), int(spec.geometry.pattern_px),
                  1 if single else int(getattr(probe, "n_modes", 1)),
                  tuple(int(n) for n in spec.phantom.shape_px), subpixel)


def dataset_bytes(s: Shapes, kind: str) -> int:
    """The Dataset as load_cxi returns it: intensities float32, mask uint32 (w, w), positions float64
    (n_a, n_p, 2) twice (recorded and true), probe guess and true probe complex64 (m, w, w), truth
    delta and beta float32 (grid), truth object complex64 (grid for 'bragg', else (n_y, n_x))."""
    w2 = s.pattern_px ** 2
    obj = s.voxels if kind == "bragg" else s.grid[1] * s.grid[2]
    return (s.intensities_bytes + I4 * w2 + 2 * F8 * 2 * s.frames + 2 * C8 * s.n_modes * w2
            + 2 * F4 * s.voxels + C8 * obj)


def _batch(s: Shapes, config) -> int:
    size = getattr(config, "batch_size", 0) or s.n_positions
    return min(size, s.n_positions)


def _fit_parts(s: Shapes, far: bool, var_bytes: int, trainable_bytes: int) -> tuple[int, int]:
    """Data copies and state of cdibench.ad.fit.fit.

    Copies: far field ifftshifts the intensities (1 copy, kept), ``astype`` copies them (transient)
    and ``tf.constant`` holds one more: 3 (near field: 2); mask: its shifted copy and float weights.
    State: variables V, Adam moments 2T, gradients T, the warm-up snapshot of variables and moments
    (numpy) 3T, the ``last_finite`` copy of every variable V: 2V + 6T.
    """
    copies = (3 if far else 2) * s.intensities_bytes + 2 * F4 * s.pattern_px ** 2
    return copies, 2 * var_bytes + 6 * trainable_bytes


def _positions_bytes(s: Shapes) -> int:
    """Patch gather indices int32 (n_a, n_p, w^2) and, for subpixel positions, their fractions
    float32 (n_a, n_p, 2) (the ramps are built per minibatch: in the working set)."""
    return I4 * s.frames * s.pattern_px ** 2 + (F4 * 2 * s.frames if s.subpixel else 0)


def _ad_thin(s: Shapes, config, far: bool) -> tuple[int, int, int, int]:
    """ad-cdi, ad-ptycho, ad-nearfield: thin_model.

    Per position, complex64 (m, w, w) arrays alive at the step's peak: forward, kept for the
    backward pass, the gathered ramp, ramp x probe spectrum, the shifted probe, the patch, the
    exit wave, its far field, |far|^2 parts (2 float32 = 1); backward, the gradients of the far
    field, the wave and the patch: 10; near field adds the transfer product and its inverse FFT
    forward and one more gradient: 13.
    """
    w2 = s.pattern_px ** 2
    obj = F4 * s.grid[1] * s.grid[2] * 2
    probe = F4 * s.n_modes * w2 * 2
    trainable = obj + (probe if getattr(config, "refine_probe", True) and s.n_positions > 1 else 0)
    copies, state = _fit_parts(s, far, obj + probe, trainable)
    per_position = (10 if far else 13) * C8 * s.n_modes * w2
    return copies, state + _positions_bytes(s), per_position * _batch(s, config), per_position


def _ad_volume(s: Shapes, config, kind: str, far: bool) -> tuple[int, int, int, int]:
    """ad-multislice, ad-tomo, ad-fullfield: volume_model, n_z slices of (n_y, n_x).

    State: phase and absorption float32 volumes (2 Vf), probe if refined. Working set: the
    transmission exp(-a - i phi) and its complex argument, kept, and their two gradients: 4
    complex64 volumes; the gathered slices complex64 (n_z, B, w, w); per slice and position, the
    wave, its spectrum, spectrum x kernel and the propagated wave, kept: 4 complex64 (m, w, w).
    Rotation (several angles): per volume, transpose, 4-neighbour gather, einsum, transpose back,
    kept (7 float32 volumes), and the gather's gradient (4): 2 x 11 float32 volumes.
    The projection approximation sums the rotated volume into one slice.
    """
    n_z = getattr(config, "n_slices", 0) or s.grid[0]
    vf = F4 * n_z * s.grid[1] * s.grid[2]
    w2 = s.pattern_px ** 2
    probe = F4 * s.n_modes * w2 * 2
    refine = getattr(config, "refine_probe", False) and kind != "fullfield-tomo"
    copies, state = _fit_parts(s, far, 2 * vf + probe, 2 * vf + (probe if refine else 0))
    slices = 1 if getattr(config, "projection_approximation", False) else n_z
    rotation = 2 * 11 * vf if s.n_angles > 1 else 0
    per_position = (slices * 4 + slices) * C8 * s.n_modes * w2
    working = 4 * 2 * vf * slices // n_z + rotation + per_position * _batch(s, config)
    return copies, state + _positions_bytes(s), working, per_position


def _ad_bragg(s: Shapes, config) -> tuple[int, int, int, int]:
    """ad-bragg: bragg_model, crystal (n_z, w, w).

    State: crystal re/im float32 (T = 2 Vf), the sheared probe columns complex64 (n_p, m, n_z, w, w),
    rocking ramps complex64 (n_a, n_z, w, w). Working set per position, complex64 (m, n_z, w, w):
    the gathered columns (kept), their product with the crystal, the product's gradient and the
    gradients towards both factors: 5.
    """
    n_z = getattr(config, "n_slices", 0) or s.grid[0]
    column = C8 * s.n_modes * n_z * s.pattern_px ** 2
    vf = F4 * n_z * s.pattern_px ** 2
    copies, state = _fit_parts(s, True, 2 * vf, 2 * vf)
    constants = column * s.n_positions + 2 * vf * s.n_angles
    return copies, state + constants, 5 * column * _batch(s, config), 5 * column


def _fbp_bytes(n_angles: int, n_y: int, n: int, real: int) -> tuple[int, int]:
    """baselines.fbp of (n_angles, n_y, n) projections of ``real`` bytes per value, at its peak (the
    interpolation matrix's construction; traced with tracemalloc): (matrix bytes, array bytes).

    Arrays: the weighted filtered projections, their zero-padded columns and the volume (n_a n_y n,
    n_a (n + 2) n_y, n^2 n_y values). Per (pixel, angle) pair of the inscribed disk (n^2 pi / 4
    pixels, at most baselines.fbp.PAIRS_PER_CHUNK pairs at a time): the coordinate (real), its floor int32,
    2 column indices int32, 2 weights (real), and scipy's int64 copy of the indices.
    """
    from baselines.fbp import PAIRS_PER_CHUNK  # here, not at import: baselines loads scikit-image

    pixels = int(3.1416 / 4 * n * n)
    pairs = pixels * min(n_angles, max(1, PAIRS_PER_CHUNK // pixels))
    matrix = (real + I4 + 2 * I4 + 2 * real + 2 * 8) * pairs
    return matrix, real * (n_angles * n_y * n + n_angles * (n + 2) * n_y + n * n * n_y)


def _baseline(s: Shapes, solver: str) -> tuple[int, int, int, int]:
    """numpy baselines (and, as a lower bound, peers whose memory is not modelled).

    hio/er: amplitudes, support, a few complex64 (w, w) iterates: 6 (w, w) complex64.
    epie/rpie: sqrt(I) then its ifftshift (2 copies at the peak), the object complex64 and the
    per-position exit waves, spectra and updates (4 (m, w, w)).
    ptycho-fbp, at its peak in the second FBP (traced): the ePIE terms, the normalised object of
    every angle (complex64), the projected delta and beta lists and the stack being reconstructed
    (float32 (n_a, n_y, n_x) each), the delta volume (float32 n_x^2 n_y), and FBP in float32.
    fbp: the clipped frames float32 and -log I float64 (divided by a numpy float64 k dz, so FBP runs
    in float64), and FBP.
    """
    w2 = s.pattern_px ** 2
    obj = C8 * s.grid[1] * s.grid[2]
    if solver in ("hio", "er"):
        return s.intensities_bytes, 0, 6 * C8 * w2, 0
    if solver in ("epie", "rpie", "ptycho-fbp"):
        state, working = obj + 2 * C8 * s.n_modes * w2, 4 * C8 * s.n_modes * w2
        if solver == "ptycho-fbp":
            _, n_y, n_x = s.grid
            matrix, arrays = _fbp_bytes(s.n_angles, n_y, n_x, F4)
            state += obj * s.n_angles + 3 * F4 * s.n_angles * n_y * n_x + F4 * n_x * n_x * n_y + matrix
            working += arrays
        return 2 * s.intensities_bytes // s.n_angles, state, working, 0
    if solver != "fbp":  # not modelled (peers): the solver's copy of the intensities, a lower bound
        return s.intensities_bytes, 0, 0, 0
    matrix, arrays = _fbp_bytes(s.frames, s.pattern_px, s.pattern_px, F8)
    return (F4 + F8) * s.frames * s.pattern_px ** 2, matrix, arrays, 0


def estimate_run_bytes(spec, solver_name: str, config) -> MemoryEstimate:
    """The memory of running ``solver_name`` with ``config`` (its frozen config, see
    cdibench.solvers.registry.solver_config) on ``spec``'s dataset: see :class:`MemoryEstimate`."""
    s = shapes(spec)
    far = spec.geometry.detection == "far"
    if solver_name in ("ad-cdi", "ad-ptycho", "ad-nearfield"):
        parts = _ad_thin(s, config, far)
    elif solver_name in ("ad-multislice", "ad-tomo", "ad-fullfield"):
        parts = _ad_volume(s, config, spec.kind, far)
    elif solver_name == "ad-bragg":
        parts = _ad_bragg(s, config)
    else:
        parts = _baseline(s, solver_name)
    copies, state, working, per_position = parts
    runtime = MEASURED_RUN_OVERHEAD_BYTES if solver_name in NO_RUN_METRICS else 0
    if solver_name in AD_SOLVERS:
        unrolled = getattr(config, "n_slices", 0) or s.grid[0]
        slices = 1 if getattr(config, "projection_approximation", False) or solver_name == "ad-bragg" else unrolled
        runtime = MEASURED_TF_RUNTIME_BYTES + MEASURED_GRAPH_BYTES_PER_SLICE * (slices - 1)
        if getattr(config, "jit_compile", False):
            runtime += MEASURED_XLA_BYTES + int(MEASURED_XLA_BYTES_PER_SLICE * (slices - 1))
    truth = s.voxels if spec.kind in ("multislice", "multislice-tomo", "fullfield-tomo", "bragg") else s.grid[1] * s.grid[2]
    metrics = 0 if solver_name in NO_RUN_METRICS else (MEASURED_METRICS_FIXED_BYTES.get(spec.kind, 0)
                                                       + MEASURED_METRICS_BYTES_PER_ELEMENT[spec.kind] * truth)
    modelled = solver_name in AD_SOLVERS or solver_name in BASELINES
    return MemoryEstimate(dataset_bytes(s, spec.kind), copies, state, working, metrics, runtime, per_position,
                          modelled)


def largest_batch(spec, solver_name: str, config, available_bytes: int) -> int:
    """The largest batch_size whose estimate fits in ``available_bytes`` (0 if none does; only AD
    solvers have a batch): the estimate is affine in the batch, slope ``per_position_bytes``."""
    if "batch_size" not in getattr(config, "__dataclass_fields__", {}):
        return 0
    one = estimate_run_bytes(spec, solver_name, replace(config, batch_size=1))
    if one.per_position_bytes == 0 or one.total_bytes > available_bytes:
        return 0
    return min(n_positions(spec), 1 + (available_bytes - one.total_bytes) // one.per_position_bytes)
