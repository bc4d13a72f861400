"""Shared set-up of the asv benchmarks: dataset specs per parameter, cached simulation, the slow-case
switch and the guarded TensorFlow import.

Nothing here imports TensorFlow or ``cdibench.ad`` at module level: asv discovers the suite (and
``asv check`` imports it) on machines without TensorFlow; AD benchmarks call
:func:`require_tensorflow` in their ``setup``, which skips them there.

Slow cases: parameter combinations above a work budget raise ``NotImplementedError`` in ``setup``
(asv records them as skipped, "n/a") unless the environment has ``CDIBENCH_BENCH_SLOW=1``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import

from cdibench import kinds  # noqa: E402
from cdibench.data.catalog import SHIPPED_DIR  # noqa: E402
from cdibench.data.spec import DatasetSpec, load_spec  # noqa: E402
from cdibench.simulation import simulate  # noqa: E402

from . import choose  # noqa: E402

SLOW_ENV = "CDIBENCH_BENCH_SLOW"

# Base specs of the parameterised benchmarks (shipped specs, datasets/<name>.toml).
THIN_BASE = {"ptycho-far": "quick-ptycho-far", "ptycho-near": "quick-ptycho-near"}
VOLUME_BASE = {"multislice": "quick-multislice", "multislice-tomo": "quick-multislice-tomo",
               "fullfield-tomo": "quick-fullfield-tomo"}

# Work budgets of the default (fast) cases, in complex samples per pass:
# positions x probe modes x pattern pixels (thin), x slices or angles for volumes.
THIN_BUDGET = 144 * 2 * 64 * 64  # e.g. 144 positions, 2 modes, 64 px; or 36 x 2 x 128 px
VOLUME_BUDGET = 16 * 6 * 48 * 32 * 32  # 16 angles of quick-multislice-tomo


def slow_enabled() -> bool:
    """True when ``CDIBENCH_BENCH_SLOW=1``: run the big parameter combinations too."""
    return os.environ.get(SLOW_ENV, "") == "1"


def skip_if_slow(work: float, budget: float, what: str) -> None:
    """Raise NotImplementedError (asv: skipped) for a case over ``budget`` unless slow cases are on."""
    if work > budget and not slow_enabled():
        raise NotImplementedError(f"{what}: slow case (work {work:.3g} > budget {budget:.3g}); "
                                  f"set {SLOW_ENV}=1 to run it")


def require_tensorflow():
    """Import and return TensorFlow, or raise NotImplementedError (asv: skipped) without it."""
    try:
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise NotImplementedError(f"TensorFlow is not importable: {exc}") from None
    return tf


def base_spec(name: str) -> DatasetSpec:
    """The shipped dataset spec ``name`` (cdibench/datasets/NAME.toml)."""
    return load_spec(SHIPPED_DIR / f"{name}.toml")


def thin_spec(kind: str, pattern_px: int, n_positions: int, n_modes: int) -> DatasetSpec:
    """The quick thin-object case of ``kind`` scaled to a pattern size, a square raster of
    ``n_positions`` and ``n_modes`` probe modes: probe and scan step scale with the pattern (same
    overlap), the phantom grows to hold the scan."""
    base = base_spec(THIN_BASE[kind])
    rows = math.isqrt(n_positions)
    if rows * rows != n_positions:
        raise ValueError(f"n_positions = {n_positions} is invalid: expected a square (raster rows x rows)")
    scale = pattern_px / base.geometry.pattern_px
    step = base.scan.step_px * scale
    offset = base.scan.random_offset_px
    size = int(math.ceil(pattern_px + step * (rows - 1) + 4 * offset + 4))
    size += size % 2
    return dataclasses.replace(
        base, name=f"{base.name}-{pattern_px}px-{n_positions}pos-{n_modes}modes",
        geometry=dataclasses.replace(base.geometry, pattern_px=pattern_px),
        probe=dataclasses.replace(base.probe, radius_px=base.probe.radius_px * scale,
                                  edge_px=base.probe.edge_px * scale, n_modes=n_modes),
        scan=dataclasses.replace(base.scan, shape=(rows, rows), step_px=step),
        phantom=dataclasses.replace(base.phantom, shape_px=(1, size, size)))


def thin_work(pattern_px: int, n_positions: int, n_modes: int) -> float:
    return float(pattern_px * pattern_px * n_positions * n_modes)


def volume_spec(kind: str, n_angles: int | None = None, n_slices: int | None = None) -> DatasetSpec:
    """The quick volume case of ``kind`` with ``n_angles`` tomographic angles (tomography kinds)
    or a phantom ``n_slices`` voxels thick (single-angle multislice)."""
    spec = base_spec(VOLUME_BASE[kind])
    if n_angles is not None:
        spec = dataclasses.replace(spec, name=f"{spec.name}-{n_angles}angles",
                                   tomography=dataclasses.replace(spec.tomography, n_angles=n_angles))
    if n_slices is not None:
        shape = (n_slices,) + tuple(spec.phantom.shape_px[1:])
        spec = dataclasses.replace(spec, name=f"{spec.name}-{n_slices}slices",
                                   phantom=dataclasses.replace(spec.phantom, shape_px=shape))
    return spec


def volume_work(spec: DatasetSpec, n_slices: int | None = None) -> float:
    """Complex samples per full pass of the volume model: angles x positions x slices x pattern."""
    n_z = n_slices if n_slices is not None else spec.phantom.shape_px[0]
    window = spec.geometry.pattern_px ** 2
    n_positions = spec.scan.shape[0] * spec.scan.shape[1] if kinds.kind(spec.kind).scanned else 1
    return float(spec.tomography.n_angles * n_positions * n_z * window)


@dataclass(frozen=True)
class Axis:
    """A scaling axis: the values of one size parameter, and which solvers are timed along it:
    the lead solvers (choose.leads) of ``kind``, or only its AD one (``ad_only``)."""

    kind: str
    values: tuple[int, ...]
    ad_only: bool = False

    @property
    def solvers(self) -> tuple[str, ...]:
        return tuple(choose.leads(self.kind, ad=True if self.ad_only else None))


# Scaling axes: parameter -> Axis. Positions and pattern size scale quick-ptycho-far (64 px / 36
# positions fixed respectively); slices make the quick-multislice foam n_slices voxels (1 nm each)
# thick; angles: quick-multislice-tomo.
SCALING = {"n_positions": Axis("ptycho-far", (36, 64, 144, 324, 576)),
           "pattern_px": Axis("ptycho-far", (64, 128, 256)),
           "n_slices": Axis("multislice", (1, 4, 16, 64), ad_only=True),
           "n_angles": Axis("multislice-tomo", (4, 16, 64), ad_only=True)}


def scaling_spec(parameter: str, value: int) -> DatasetSpec:
    """The dataset of one point of a scaling axis (see SCALING); the others stay at the quick case."""
    if parameter not in SCALING:
        raise ValueError(f"parameter = {parameter!r} is not a scaling axis: expected one of {', '.join(SCALING)}")
    axis_kind = SCALING[parameter].kind
    if parameter == "n_positions":
        return thin_spec(axis_kind, 64, value, base_spec(THIN_BASE[axis_kind]).probe.n_modes)
    if parameter == "pattern_px":
        return thin_spec(axis_kind, value, 36, base_spec(THIN_BASE[axis_kind]).probe.n_modes)
    if parameter == "n_slices":
        return volume_spec(axis_kind, n_slices=value)
    return volume_spec(axis_kind, n_angles=value)


def skip_slow_scaling(spec: DatasetSpec) -> None:
    """skip_if_slow for a scaling point, by the work budget of its kind."""
    if kinds.kind(spec.kind).thin:
        rows, cols = spec.scan.shape
        work, budget = thin_work(spec.geometry.pattern_px, rows * cols, spec.probe.n_modes), THIN_BUDGET
    else:
        work, budget = volume_work(spec), VOLUME_BUDGET
    skip_if_slow(work, budget, spec.name)


@functools.lru_cache(maxsize=8)
def _simulate_cached(text: str):
    from cdibench.data.spec import spec_from_toml
    return simulate(spec_from_toml(text))


def dataset(spec: DatasetSpec):
    """simulate(spec), cached in this process (asv re-runs ``setup`` before every sample)."""
    return _simulate_cached(spec.to_toml())


def with_true_probe(ds):
    """The dataset with the true probe modes as the probe guess (forward-model timing needs the
    modes the data were made with; the spec's guess may have fewer)."""
    return dataclasses.replace(ds, probe_guess=ds.truth.probe)

