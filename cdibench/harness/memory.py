"""How much memory a run takes, estimated from its DatasetSpec and solver config before it starts.

Pure arithmetic on the spec and the frozen config: nothing is allocated, TensorFlow is not
imported, so a suite is checked in microseconds (``cdibench.harness.runner.preflight``).

What the estimate predicts. ``MemoryEstimate.run_bytes`` is the growth of the resident set while
the solver runs (``reconstruct``: its set-up, the iterations and their per-iteration metrics),
over the resident set once the dataset is loaded and the solver's backend imported: the runner's
``memory_increase_mb``. ``total_bytes`` adds the dataset as loaded: what must fit in the memory
available.

The solver's own arrays are its plug-in's terms (``Solver.memory``, cdibench/solvers/: counts of
arrays read off its code, times their size, and the backend's measured fixed costs); this module
adds what every run has: the dataset and the metrics evaluations (measured, per kind:
``cdibench.kinds.Kind.metrics_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cdibench.kinds import kind
from cdibench.solvers.base import C8, F4, F8, I4, MemoryParts
from cdibench.solvers.registry import get_solver

# Measured: resident growth of a run beyond its arrays as tracemalloc counts them (allocator arenas,
# first-touch pages, code first used), 2.4-3.7 MiB for fbp (64^3 with 32, 64, 128 angles; 96^3) and
# ptycho-fbp (quick suite). Only runs without per-iteration metrics carry it as a term: the metrics
# constants were measured on whole runs and include it.
MEASURED_RUN_OVERHEAD_BYTES = 3 * 2**20


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
    """Scan positions per angle (1 for kinds that are not scanned: CDI, full field)."""
    if not kind(spec.kind).scanned:
        return 1
    scan = getattr(spec, "scan", None)
    scan_type = getattr(scan, "type", "single")
    if scan_type == "raster":
        return int(scan.shape[0]) * int(scan.shape[1])
    if scan_type == "fermat":
        return int(scan.n_positions)
    return 1


def n_angles(spec) -> int:
    """Tomographic angles, or rocking angles of a Bragg kind."""
    if kind(spec.kind).angles == "rocking":
        return int(spec.bragg.n_rocking)
    return int(getattr(getattr(spec, "tomography", None), "n_angles", 1))


def intensities_shape(spec) -> tuple[int, int, int, int]:
    """(n_angles, n_positions, pattern_px, pattern_px) of the dataset's float32 intensities."""
    pattern = int(spec.geometry.pattern_px)
    return n_angles(spec), n_positions(spec), pattern, pattern


def shapes(spec) -> Shapes:
    """The sizes every estimate below needs, from the spec alone."""
    traits = kind(spec.kind)
    probe = getattr(spec, "probe", None)
    single = not traits.scanned or getattr(probe, "guess", "true") == "flat"
    scan = getattr(spec, "scan", None)
    step = getattr(scan, "step_px", None)
    subpixel = traits.scanned and not traits.crystal and (
        getattr(scan, "type", "single") == "fermat" or getattr(scan, "random_offset_px", 0) > 0
        or step is None or float(step) % 1 != 0)
    return Shapes(n_angles(spec), n_positions(spec), int(spec.geometry.pattern_px),
                  1 if single else int(getattr(probe, "n_modes", 1)),
                  tuple(int(n) for n in spec.phantom.shape_px), subpixel)


def dataset_bytes(s: Shapes, kind_name: str) -> int:
    """The Dataset as load_cxi returns it: intensities float32, mask uint32 (w, w), positions float64
    (n_a, n_p, 2) twice (recorded and true), probe guess and true probe complex64 (m, w, w), truth
    delta and beta float32 (grid), truth object complex64 (grid for a crystal, else (n_y, n_x))."""
    w2 = s.pattern_px ** 2
    obj = s.voxels if kind(kind_name).crystal else s.grid[1] * s.grid[2]
    return (s.intensities_bytes + I4 * w2 + 2 * F8 * 2 * s.frames + 2 * C8 * s.n_modes * w2
            + 2 * F4 * s.voxels + C8 * obj)


def metrics_bytes(s: Shapes, kind_name: str) -> int:
    """One metrics evaluation against the ground truth ((n_z, n_y, n_x) or (n_y, n_x)), measured per
    kind (cdibench.kinds.Kind.metrics_bytes)."""
    traits = kind(kind_name)
    truth = s.voxels if traits.truth_is_volume else s.grid[1] * s.grid[2]
    fixed, per_element = traits.metrics_bytes
    return fixed + per_element * truth


def estimate_run_bytes(spec, solver_name: str, config) -> MemoryEstimate:
    """The memory of running ``solver_name`` with ``config`` (its frozen config, see
    cdibench.solvers.registry.solver_config) on ``spec``'s dataset: see :class:`MemoryEstimate`.
    A solver that models no memory counts its copy of the intensities only: a lower bound."""
    solver = get_solver(solver_name)
    s = shapes(spec)
    parts = None if solver.memory is None else solver.memory(s, config, spec)
    modelled = parts is not None
    if not modelled:
        parts = MemoryParts(s.intensities_bytes, 0, 0)
    runtime = parts.runtime_bytes + (0 if solver.metrics_during_run else MEASURED_RUN_OVERHEAD_BYTES)
    metrics = metrics_bytes(s, spec.kind) if solver.metrics_during_run else 0
    return MemoryEstimate(dataset_bytes(s, spec.kind), parts.data_copies_bytes, parts.state_bytes,
                          parts.working_bytes, metrics, runtime, parts.per_position_bytes, modelled)


def largest_batch(spec, solver_name: str, config, available_bytes: int) -> int:
    """The largest batch_size whose estimate fits in ``available_bytes`` (0 if none does, or if the
    solver has no batch): the estimate is affine in the batch, slope ``per_position_bytes``."""
    if "batch_size" not in getattr(config, "__dataclass_fields__", {}):
        return 0
    one = estimate_run_bytes(spec, solver_name, replace(config, batch_size=1))
    if one.per_position_bytes == 0 or one.total_bytes > available_bytes:
        return 0
    return min(n_positions(spec), 1 + (available_bytes - one.total_bytes) // one.per_position_bytes)
