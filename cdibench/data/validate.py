"""Boundary check of a :class:`~cdibench.data.dataset.Dataset`: every field, with errors that name it.

``validate_dataset(ds)`` is called by the simulator's output path, by ``io.load_cxi`` and at
solver entry. It raises :class:`FieldValueError` (a ``ValueError``) or :class:`FieldTypeError`
(a ``TypeError``) whose message starts with the field name (``"intensities"``, ``"mask"``,
``"geometry.energy_kev"``, ``"truth.object"``...), then the bad value or the first bad index,
then what was expected. ``exc.field`` holds the field name, so a reader can map it to where the
value came from (``io.load_cxi`` maps it to an HDF5 path).

Normalisation (returned in a new Dataset; the input is never modified): intensities of any real
dtype -> float32 (photon counts), positions/angles -> float64, probe -> complex64, integer or
bool mask -> uint32, 0/1 support -> bool, object_shape -> tuple of int.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cdibench import units
from cdibench.data.dataset import Dataset, Geometry, GroundTruth
from cdibench.kinds import NAMES, Kind, kind

# Plausible X-ray photon energies: 1e-17 .. 1e-13 J (62 eV .. 624 keV); io checks the J value.
ENERGY_J_RANGE = (1e-17, 1e-13)
ENERGY_KEV_RANGE = tuple(float(units.joule_to_kev(e)) for e in ENERGY_J_RANGE)
MAX_OBJECT_PX = 1 << 16  # per axis; beyond this a unit error (m, nm instead of px) is more likely
MAX_DETECTOR_PIXEL_M = 1e-2
MAX_OBJECT_PIXEL_M = 1e-3
MAX_DISTANCE_M = 1e3


class FieldValueError(ValueError):
    """A Dataset field holds a bad value; ``field`` names it (e.g. ``"positions_px"``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class FieldTypeError(TypeError):
    """A Dataset field has the wrong type or dtype; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _array(field: str, value, kinds: str, ndim: int | None = None) -> np.ndarray:
    """``value`` as an ndarray whose dtype kind is in ``kinds`` (numpy kind letters)."""
    if not isinstance(value, np.ndarray):
        raise FieldTypeError(field, f"expected a numpy array, got {type(value).__name__}")
    if value.dtype.kind not in kinds:
        raise FieldTypeError(field, f"expected dtype kind in {kinds!r}, got {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise FieldValueError(field, f"expected {ndim} dimensions, got shape {value.shape}")
    return value


def _shape(field: str, arr: np.ndarray, expected: tuple, what: str):
    if arr.shape != tuple(expected):
        raise FieldValueError(field, f"expected shape {tuple(expected)} {what}, got {arr.shape}")


def _finite(field: str, arr: np.ndarray):
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise FieldValueError(field, f"non-finite value {arr[index].item()!r} at index {index}; "
                              "expected finite")


def _check_geometry(geo, traits: Kind) -> None:
    if not isinstance(geo, Geometry):
        raise FieldTypeError("geometry", f"expected a cdibench.data.dataset.Geometry, got {type(geo).__name__}")
    lo, hi = ENERGY_KEV_RANGE
    if not (np.isfinite(geo.energy_kev) and lo <= geo.energy_kev <= hi):
        raise FieldValueError("geometry.energy_kev", f"got {geo.energy_kev!r}; expected an X-ray "
                              f"photon energy in keV within [{lo:.3g}, {hi:.3g}]")
    limits = {"detector_pixel_m": MAX_DETECTOR_PIXEL_M, "object_pixel_m": MAX_OBJECT_PIXEL_M}
    for name, limit in limits.items():
        value = getattr(geo, name)
        if not (np.isfinite(value) and 0 < value <= limit):
            raise FieldValueError(f"geometry.{name}", f"got {value!r}; expected a size in m in "
                                  f"(0, {limit:g}] (a value in um or mm instead of m?)")
    if not (np.isfinite(geo.distance_m) and 0 <= geo.distance_m <= MAX_DISTANCE_M):
        raise FieldValueError("geometry.distance_m", f"got {geo.distance_m!r}; expected a distance "
                              f"in m within [0, {MAX_DISTANCE_M:g}]")
    for name in ("focus_to_sample_m", "sample_to_detector_m"):  # a cone beam's (Geometry checks > 0)
        if getattr(geo, name) > MAX_DISTANCE_M:
            raise FieldValueError(f"geometry.{name}", f"got {getattr(geo, name)!r}; expected a distance "
                                  f"in m within [0, {MAX_DISTANCE_M:g}]")
    if not traits.allows(geo.detection):
        raise FieldValueError("geometry.detection", f"got {geo.detection!r}; kind {traits.name!r} "
                              f"expects {' or '.join(map(repr, traits.detection))}")
    if geo.detection == "far" and geo.distance_m == 0:
        raise FieldValueError("geometry.distance_m", "got 0.0; far-field detection needs a distance > 0")
    crystal = traits.crystal
    theta = geo.two_theta_rad
    if not (np.isfinite(theta) and ((0 < theta < np.pi) if crystal else theta == 0)):
        raise FieldValueError("geometry.two_theta_rad", f"got {geo.two_theta_rad!r}; expected "
                              + ("the scattering angle 2theta in (0, pi) rad" if crystal else
                                 f"0 for kind {traits.name!r}"))


def _check_intensities(ds: Dataset, traits: Kind) -> np.ndarray:
    arr = _array("intensities", ds.intensities, "fiu", ndim=4)
    if 0 in arr.shape:
        raise FieldValueError("intensities", f"got an empty array of shape {arr.shape}; expected "
                              "(n_angles, n_positions, n_y, n_x) with every axis >= 1")
    arr = arr.astype(np.float32, copy=False)
    frame_sum = arr.sum(axis=(2, 3), dtype=np.float64)
    bad = ~np.isfinite(frame_sum)
    if bad.any():
        frame = tuple(int(i) for i in np.argwhere(bad)[0])
        pixel = tuple(int(i) for i in np.argwhere(~np.isfinite(arr[frame]))[0])
        raise FieldValueError("intensities", f"frame {frame} (angle, position) contains NaN or Inf "
                              f"({arr[frame][pixel].item()!r} at pixel {pixel}); expected finite photon counts")
    frame_min = arr.min(axis=(2, 3))
    if (frame_min < 0).any():
        frame = tuple(int(i) for i in np.argwhere(frame_min < 0)[0])
        raise FieldValueError("intensities", f"frame {frame} (angle, position) has min value "
                              f"{float(frame_min[frame])!r}; expected non-negative photon counts")
    if not traits.multi_angle and arr.shape[0] != 1:
        raise FieldValueError("intensities", f"kind {ds.kind!r} has one angle; got {arr.shape[0]} angles")
    if not (traits.scanned or traits.multi_angle) and arr.shape[:2] != (1, 1):  # one pattern
        raise FieldValueError("intensities", f"kind {ds.kind!r} expects shape (1, 1, n_y, n_x), got {arr.shape}")
    return arr


def _check_object_shape(value) -> tuple[int, int]:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise FieldTypeError("object_shape", f"expected 2 positive ints (n_y, n_x), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise FieldTypeError("object_shape", f"expected 2 positive ints (n_y, n_x), got {value!r}")
        if not 0 < int(v) <= MAX_OBJECT_PX:
            raise FieldValueError("object_shape", f"got {tuple(value)}; expected ints in "
                                  f"[1, {MAX_OBJECT_PX}]")
        out.append(int(v))
    return tuple(out)


def _check_positions(pos, n_frames: tuple, pattern: tuple, object_shape: tuple, traits: Kind) -> np.ndarray:
    pos = _array("positions_px", pos, "fiu").astype(np.float64, copy=False)
    _shape("positions_px", pos, (*n_frames, 2), "(n_angles, n_positions, 2)")
    _finite("positions_px", pos)
    upper = np.array(object_shape) - np.array(pattern)  # allowed p in [0, object_n - probe_n]
    if (upper < 0).any():
        raise FieldValueError("object_shape", f"got {object_shape}; expected >= the pattern/probe "
                              f"shape {pattern} on every axis")
    if traits.crystal:  # the probe centre p + pattern // 2 inside the object array
        lower, upper = -(np.array(pattern) // 2), np.array(object_shape) - 1 - np.array(pattern) // 2
        excess = np.maximum(lower - pos, pos - upper)
        if (excess > 0).any():
            index = np.unravel_index(int(np.argmax(excess)), excess.shape)
            raise FieldValueError("positions_px", f"probe centre off the field: value {pos[index].item()!r} at "
                                  f"index {tuple(int(i) for i in index)}; expected kind 'bragg' offsets in "
                                  f"[{int(lower[index[-1]])}, {int(upper[index[-1]])}] px")
        return pos
    excess = np.maximum(-np.floor(pos), np.ceil(pos) - upper)
    if (excess > 0).any():
        index = np.unravel_index(int(np.argmax(excess)), excess.shape)
        axis = ("row", "col")[index[-1]]
        raise FieldValueError("positions_px", f"probe window off the object: worst value "
                              f"{pos[index].item()!r} ({axis}) at index {tuple(int(i) for i in index)}; "
                              f"expected 0 <= {axis} <= {int(upper[index[-1]])} (object {object_shape}, "
                              f"probe {pattern}); positions are in object pixels, not m or nm")
    return pos


def _check_probe(field: str, probe, pattern: tuple, nonzero: bool = True) -> np.ndarray:
    probe = _array(field, probe, "fc", ndim=3).astype(np.complex64, copy=False)
    if probe.shape[0] < 1 or probe.shape[1:] != pattern:
        raise FieldValueError(field, f"expected shape (n_modes >= 1, {pattern[0]}, {pattern[1]}), "
                              f"got {probe.shape}")
    _finite(field, probe)
    if nonzero and not np.any(probe):
        raise FieldValueError(field, "zero probe: every value is 0; expected a non-zero guess")
    return probe


def _check_mask(mask, shape4: tuple) -> np.ndarray:
    mask = _array("mask", mask, "biu")
    if mask.shape not in (shape4[2:], shape4):
        raise FieldValueError("mask", f"expected shape {shape4[2:]} or {shape4}, got {mask.shape}")
    if mask.dtype.kind == "i" and mask.size and mask.min() < 0:
        raise FieldValueError("mask", f"negative value {int(mask.min())}; expected CXI bit flags >= 0")
    if mask.dtype.kind != "b" and mask.size and int(mask.max()) > np.iinfo(np.uint32).max:
        raise FieldValueError("mask", f"value {int(mask.max())} does not fit uint32")
    mask = mask.astype(np.uint32, copy=False)
    good = (mask == 0).reshape(-1, mask.shape[-2] * mask.shape[-1]).any(axis=1)
    if not good.all():
        first = int(np.argmin(good))
        frame = (0, 0) if mask.ndim == 2 else tuple(int(i) for i in np.unravel_index(first, shape4[:2]))
        raise FieldValueError("mask", f"frame {frame} (angle, position) is entirely masked; "
                              "expected at least one good (0) pixel per frame")
    return mask


def _check_support(support, object_shape: tuple):
    if support is None:
        return None
    support = _array("support", support, "biu")
    _shape("support", support, object_shape, "(object_shape)")
    if support.dtype.kind != "b":
        if support.size and not np.isin(support, (0, 1)).all():
            raise FieldTypeError("support", f"expected bool (or 0/1) values, got dtype {support.dtype}")
        support = support.astype(bool)
    return support


def _check_truth(truth, ds_shapes: dict, traits: Kind):
    if truth is None:
        return None
    if not isinstance(truth, GroundTruth):
        raise FieldTypeError("truth", f"expected GroundTruth or None, got {type(truth).__name__}")
    delta = _array("truth.delta", truth.delta, "fiu", ndim=3).astype(np.float32, copy=False)
    beta = _array("truth.beta", truth.beta, "fiu", ndim=3).astype(np.float32, copy=False)
    _shape("truth.beta", beta, delta.shape, "(delta's shape)")
    _finite("truth.delta", delta)
    _finite("truth.beta", beta)
    vox = truth.voxel_size_m
    if isinstance(vox, bool) or not isinstance(vox, (int, float, np.floating)) or not (
            np.isfinite(vox) and 0 < vox <= MAX_OBJECT_PIXEL_M):
        raise FieldValueError("truth.voxel_size_m", f"got {vox!r}; expected a size in m in "
                              f"(0, {MAX_OBJECT_PIXEL_M:g}]")
    obj = _array("truth.object", truth.object, "fc").astype(np.complex64, copy=False)
    if traits.crystal:  # the complex crystal on the volume grid, whose (n_y, n_x) is the field
        _shape("truth.delta", delta, (delta.shape[0], *ds_shapes["object"]), "(n_z, object_shape)")
        _shape("truth.object", obj, delta.shape, "(delta's shape: the crystal of kind 'bragg')")
    else:
        _shape("truth.object", obj, ds_shapes["object"], "(object_shape)")
    _finite("truth.object", obj)
    probe = _check_probe("truth.probe", truth.probe, ds_shapes["pattern"], nonzero=False)
    pos = _array("truth.positions_px", truth.positions_px, "fiu").astype(np.float64, copy=False)
    _shape("truth.positions_px", pos, ds_shapes["positions"], "(positions_px's shape)")
    _finite("truth.positions_px", pos)
    return GroundTruth(delta, beta, float(vox), obj, probe, pos, _check_flux(truth.flux_scale, pos.shape[:2]))


def _check_flux(flux, frames: tuple) -> np.ndarray | None:
    """truth.flux_scale: None, or positive finite float64 (n_angles, n_positions)."""
    if flux is None:
        return None
    flux = _array("truth.flux_scale", flux, "fiu").astype(np.float64, copy=False)
    _shape("truth.flux_scale", flux, frames, "(n_angles, n_positions)")
    if not np.all(np.isfinite(flux) & (flux > 0)):
        bad = tuple(int(i) for i in np.argwhere(~(np.isfinite(flux) & (flux > 0)))[0])
        raise FieldValueError("truth.flux_scale", f"got {flux[bad]!r} at index {bad}; expected finite factors > 0")
    return flux


def _check_angles(angles, n_angles: int) -> np.ndarray:
    angles = _array("angles_rad", angles, "fiu").astype(np.float64, copy=False)
    _shape("angles_rad", angles, (n_angles,), "(n_angles,)")
    _finite("angles_rad", angles)
    return angles


def _check_meta(ds: Dataset) -> None:
    if not isinstance(ds.spec_toml, str):
        raise FieldTypeError("spec_toml", f"expected str, got {type(ds.spec_toml).__name__}")
    if ds.seed is not None and (isinstance(ds.seed, bool) or not isinstance(ds.seed, (int, np.integer))):
        raise FieldTypeError("seed", f"expected int or None, got {ds.seed!r}")
    if ds.seed is not None and not 0 <= int(ds.seed) < 2**63:
        raise FieldValueError("seed", f"got {ds.seed!r}; expected an int in [0, 2**63)")
    if not isinstance(ds.provenance, dict):
        raise FieldTypeError("provenance", f"expected dict, got {type(ds.provenance).__name__}")


def validate_dataset(ds: Dataset) -> Dataset:
    """Check every field of ``ds``; return it with dtypes normalised (see module docstring).

    Raises FieldValueError/FieldTypeError (ValueError/TypeError) naming the field, the bad value
    or first bad index, and what was expected.
    """
    if not isinstance(ds, Dataset):
        raise FieldTypeError("dataset", f"expected cdibench.data.dataset.Dataset, got {type(ds).__name__}")
    if ds.kind not in NAMES:
        raise FieldValueError("kind", f"got {ds.kind!r}; expected one of {NAMES}")
    traits = kind(ds.kind)
    _check_geometry(ds.geometry, traits)
    intensities = _check_intensities(ds, traits)
    shape4 = intensities.shape
    pattern = shape4[2:]
    object_shape = _check_object_shape(ds.object_shape)
    positions = _check_positions(ds.positions_px, shape4[:2], pattern, object_shape, traits)
    probe = _check_probe("probe_guess", ds.probe_guess, pattern)
    mask = _check_mask(ds.mask, shape4)
    angles = _check_angles(ds.angles_rad, shape4[0])
    support = _check_support(ds.support, object_shape)
    shapes = {"object": object_shape, "pattern": pattern, "positions": positions.shape}
    truth = _check_truth(ds.truth, shapes, traits)
    _check_meta(ds)
    return dataclasses.replace(
        ds, intensities=intensities, positions_px=positions, probe_guess=probe, mask=mask,
        angles_rad=angles, object_shape=object_shape, support=support, truth=truth,
        seed=None if ds.seed is None else int(ds.seed))
