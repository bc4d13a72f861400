"""Dataset <-> CXI 1.6 (HDF5) file, every field checked on load.

Layout written by :func:`save_cxi` (N = n_angles * n_positions frames, angle-major)::

    /cxi_version = 160                      /number_of_entries = 1
    /entry_1/instrument_1/detector_1/
        data           float32 (N, n_y, n_x) photons, not FFT-shifted, one chunk per frame
        distance, x_pixel_size, y_pixel_size   float64 [m]: the physical sample-to-detector
                       distance z2 and detector pixel (a cone beam's too, not its effective ones)
        basis_vectors  float64 (2, 3) [m]: [[0, p_y, 0], [p_x, 0, 0]] (row index along +y,
                       column index along +x, the directions of the translation below)
        mask           uint32 (n_y, n_x) or (N, n_y, n_x); 0 = good, CXI bit flags otherwise
    /entry_1/instrument_1/source_1/
        energy [J], wavelength [m]          float64
        illumination   complex64 (n_modes, n_y, n_x), the probe guess (object-plane sampling)
    /entry_1/sample_1/geometry_1/translation   float64 (N, 3) [m] as (x = column, y = row, z = 0)
    /entry_1/data_1/{data, translation}      soft links to the two datasets above
    /entry_1/process_1/{program, version, command, configuration (the spec TOML), date}
    /entry_1/cdibench/                       what CXI has no place for
        kind, detection ("far" | "near"), object_shape int64 (2,), object_pixel_m [m],
        two_theta_rad [rad] (kind "bragg": the scattering angle 2theta; 0 otherwise; absent = 0),
        focus_to_sample_m [m] (a near-field cone beam's focus-to-sample distance z1; absent = a
        plane wave; the loaded Geometry derives the effective distance z2 / M and checks the
        stored object_pixel_m, the effective pixel, against detector pixel / M, M = (z1 + z2) / z1),
        n_angles, n_positions, angles_rad float64 (n_angles,), probe_guess (soft link to
        illumination), support bool (optional), seed (optional), spec_toml, provenance (JSON),
        truth/{delta, beta, voxel_size_m, object, probe, positions_px, flux_scale (optional)}
        (optional)

Per-frame rotation angles are not written under geometry_1 (CXI 1.6 has no field for them):
frame ``i`` has angle ``angles_rad[i // n_positions]`` (for kind "bragg" the rocking angle dtheta).
Kind "bragg" stores its probe-centre offsets (y, a) in the probe's own plane as translation
(x = a, y), and the ground-truth crystal (complex, (n_z, n_y, n_x)) as truth/object.

Translation convention. CXI records the *sample* translation. The probe centre relative to the
object-array centre is ``c = positions_px + probe_n // 2 - object_n // 2`` (row, col) [px], and
when the sample moves by +t the beam lands at -t on the sample, so ``translation = -c *
object_pixel_m`` with x = column, y = row. The basis vectors point +y / +x, so a reader that
maps a probe translation (-translation) to pixels through the object-plane basis (cdtools does)
recovers ``c``: the same orientation, no mirror. On load, detector basis vectors with negative
directions (cdtools' default) flip the corresponding axis, so the mapping stays the one the
file's writer meant.

External files (no ``entry_1/cdibench``) load as kind "ptycho-far", one angle, object pixel
``lambda z / (N p)``, positions centred on an object array that covers the scan with a margin
of ``EXTERNAL_MARGIN_PX``, probe from ``source_1/illumination`` (or ``source_1/probe``) or from
``load_cxi(..., probe_guess=...)``; without either the load fails naming the missing path
(a made-up probe would silently decide the result). A missing mask means no bad pixel.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import h5py
import numpy as np

from cdibench import units
from cdibench.data.atomic import atomic_write
from cdibench.data.cxi_fields import (
    CDIBENCH,
    DETECTOR,
    FIELD_PATHS,
    PATHS,
    SOURCE,
    read_detector_pixel,
    read_energy_kev,
    read_intensities,
    read_translation,
)
from cdibench.data.dataset import Dataset, Geometry, GroundTruth, fresnel_scaling
from cdibench.data.hdf5_fields import array as _array
from cdibench.data.hdf5_fields import integers as _integers
from cdibench.data.hdf5_fields import node as _node
from cdibench.data.hdf5_fields import number as _number
from cdibench.data.hdf5_fields import string as _string
from cdibench.data.validate import (
    MAX_OBJECT_PX,
    FieldTypeError,
    FieldValueError,
    validate_dataset,
)
from cdibench.physics.scans import object_shape_for_scan, top_left_positions
from cdibench.provenance import package_version

CXI_VERSION = 160
EXTERNAL_MARGIN_PX = 8

# ----------------------------------------------------------------------------------- writing

def translation_m(positions_px, probe_shape, object_shape, object_pixel_m) -> np.ndarray:
    """Recorded (row, col) window corners [px] (..., 2) -> CXI sample translation (M, 3) [m]."""
    pos = np.asarray(positions_px, dtype=np.float64).reshape(-1, 2)
    c = pos + np.array(probe_shape) // 2 - np.array(object_shape) // 2
    return np.stack([-c[:, 1] * object_pixel_m, -c[:, 0] * object_pixel_m, np.zeros(len(c))], axis=1)


def _write_cxi_fields(f: h5py.File, ds: Dataset, compression, command: str) -> None:
    n_a, n_p, n_y, n_x = ds.intensities.shape
    geo = ds.geometry
    f["cxi_version"] = np.int64(CXI_VERSION)
    f["number_of_entries"] = np.int64(1)
    det = f.create_group(DETECTOR)
    data = det.create_dataset("data", data=ds.intensities.reshape(n_a * n_p, n_y, n_x),
                              chunks=(1, n_y, n_x), compression=compression)
    data.attrs["axes"] = "translation:y:x"
    p = geo.detector_pixel_m
    for name, value in (("distance", geo.detector_distance_m), ("x_pixel_size", p), ("y_pixel_size", p),
                        ("basis_vectors", [[0.0, p, 0.0], [p, 0.0, 0.0]])):
        det.create_dataset(name, data=np.float64(value)).attrs["units"] = "m"
    mask = ds.mask if ds.mask.ndim == 2 else ds.mask.reshape(n_a * n_p, n_y, n_x)
    det.create_dataset("mask", data=mask, chunks=None if mask.ndim == 2 else (1, n_y, n_x),
                       compression=compression)
    src = f.create_group(SOURCE)
    src.create_dataset("energy", data=np.float64(units.kev_to_joule(geo.energy_kev))).attrs["units"] = "J"
    src.create_dataset("wavelength", data=np.float64(units.wavelength_m(geo.energy_kev))).attrs["units"] = "m"
    src["illumination"] = ds.probe_guess
    translation = translation_m(ds.positions_px, ds.pattern_shape, ds.object_shape, geo.object_pixel_m)
    f.create_dataset(PATHS["translation"], data=translation).attrs["units"] = "m"
    f["entry_1/data_1/data"] = h5py.SoftLink("/" + PATHS["data"])
    f["entry_1/data_1/translation"] = h5py.SoftLink("/" + PATHS["translation"])
    process = f.create_group("entry_1/process_1")
    for name, value in (("program", "cdibench"), ("version", package_version()),
                        ("command", command), ("configuration", ds.spec_toml),
                        ("date", datetime.datetime.now(datetime.timezone.utc).isoformat())):
        process[name] = value


def _write_cdibench_group(f: h5py.File, ds: Dataset) -> None:
    g = f.create_group(CDIBENCH)
    g["kind"] = ds.kind
    g["detection"] = ds.geometry.detection
    g["object_shape"] = np.array(ds.object_shape, dtype=np.int64)
    g["object_pixel_m"] = np.float64(ds.geometry.object_pixel_m)
    g["two_theta_rad"] = np.float64(ds.geometry.two_theta_rad)
    if ds.geometry.cone:
        g["focus_to_sample_m"] = np.float64(ds.geometry.focus_to_sample_m)
    g["n_angles"] = np.int64(ds.n_angles)
    g["n_positions"] = np.int64(ds.n_positions)
    g["angles_rad"] = ds.angles_rad
    g["probe_guess"] = h5py.SoftLink("/" + PATHS["illumination"])
    if ds.support is not None:
        g["support"] = ds.support
    if ds.seed is not None:
        g["seed"] = np.int64(ds.seed)
    g["spec_toml"] = ds.spec_toml
    g["provenance"] = json.dumps(ds.provenance, default=str, sort_keys=True)
    if ds.truth is not None:
        t = g.create_group("truth")
        for name in ("delta", "beta", "object", "probe", "positions_px"):
            t.create_dataset(name, data=getattr(ds.truth, name))
        t["voxel_size_m"] = np.float64(ds.truth.voxel_size_m)
        if ds.truth.flux_scale is not None:
            t["flux_scale"] = ds.truth.flux_scale


def save_cxi(ds: Dataset, path, *, compression: str | None = None, command: str | None = None) -> Path:
    """Validate ``ds`` and write it to ``path`` as CXI 1.6, atomically; return the path.

    The file is written to a temp file in the same folder, synced, then ``os.replace``-d, so a
    crash never leaves a half-written ``path``. ``compression``: None (default: fastest round
    trip), "lzf" or "gzip" for data and mask. ``command``: recorded in process_1 (default argv).
    """
    ds = validate_dataset(ds)
    path = Path(path)
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        _write_cxi_fields(f, ds, compression, " ".join(sys.argv) if command is None else command)
        _write_cdibench_group(f, ds)
    return path


# ----------------------------------------------------------------------------------- reading

def _positions(t: np.ndarray, pixel_m: float, signs, probe_shape, object_shape) -> np.ndarray:
    """CXI translation (M, 3) [m] -> recorded window corners (M, 2) [px] (inverse of translation_m)."""
    c = -np.stack([signs[0] * t[:, 1], signs[1] * t[:, 0]], axis=1) / pixel_m
    return c - np.array(probe_shape) // 2 + np.array(object_shape) // 2


def _probe(f, override) -> np.ndarray:
    for path in (PATHS["illumination"], f"{SOURCE}/probe", f"{CDIBENCH}/probe_guess"):
        probe = _array(f, path, "fc", ndims=(2, 3), required=False)
        if probe is not None:
            return probe[None] if probe.ndim == 2 else probe
    if override is not None:
        return np.asarray(override)
    raise ValueError(f"{PATHS['illumination']}: missing; a probe guess is needed there "
                     "(or pass load_cxi(path, probe_guess=...))")


def _truth(f):
    g = f"{CDIBENCH}/truth"
    if _node(f, g, required=False) is None:
        return None
    kinds = {"delta": "fiu", "beta": "fiu", "object": "fc", "probe": "fc", "positions_px": "fiu"}
    arrays = {name: _array(f, f"{g}/{name}", kind) for name, kind in kinds.items()}
    return GroundTruth(voxel_size_m=_number(f, f"{g}/voxel_size_m", "m"),
                       flux_scale=_array(f, f"{g}/flux_scale", "f", required=False), **arrays)


def _own_meta(f, t: np.ndarray, signs, pattern) -> dict:
    """Fields stored in entry_1/cdibench (files written by save_cxi)."""
    g, n = CDIBENCH, len(t)
    n_a = int(_integers(f, f"{g}/n_angles", (), 1, n))
    n_p = int(_integers(f, f"{g}/n_positions", (), 1, n))
    if n_a * n_p != n:
        raise ValueError(f"{g}/n_angles x {g}/n_positions: {n_a} x {n_p} != {n} frames in {PATHS['data']}")
    object_shape = tuple(int(v) for v in _integers(f, f"{g}/object_shape", (2,), 1, MAX_OBJECT_PX))
    object_pixel_m = _number(f, f"{g}/object_pixel_m", "m")
    positions = _positions(t, object_pixel_m, signs, pattern, object_shape).reshape(n_a, n_p, 2)
    seed = _integers(f, f"{g}/seed", (), 0, 2**63 - 1, required=False)
    provenance = json.loads(_string(f, f"{g}/provenance", required=False) or "{}")
    if not isinstance(provenance, dict):
        raise TypeError(f"{g}/provenance: expected a JSON object, got {type(provenance).__name__}")
    two_theta = _number(f, f"{g}/two_theta_rad", "rad", allow_zero=True, required=False)
    return dict(kind=_string(f, f"{g}/kind"), detection=_string(f, f"{g}/detection"),
                two_theta_rad=two_theta or 0.0,
                focus_to_sample_m=_number(f, f"{g}/focus_to_sample_m", "m", required=False),
                object_shape=object_shape, object_pixel_m=object_pixel_m, positions_px=positions,
                angles_rad=_array(f, f"{g}/angles_rad", "fiu"),
                support=_array(f, f"{g}/support", "biu", required=False), truth=_truth(f),
                seed=None if seed is None else int(seed), provenance=provenance,
                spec_toml=_string(f, f"{g}/spec_toml", required=False) or "")


def _geometry(meta: dict, energy_kev: float, distance_m: float, pixel_m: float) -> Geometry:
    """The Dataset's geometry; a cone beam (z1 stored) carries its effective distance z2 / M."""
    z1 = meta.pop("focus_to_sample_m", None)  # > 0 when stored (hdf5_fields.number)
    distance = fresnel_scaling(z1, distance_m)[1] if z1 is not None and distance_m > 0 else distance_m
    return Geometry(energy_kev, distance, pixel_m, meta.pop("object_pixel_m"), meta.pop("detection"),
                    meta.pop("two_theta_rad", 0.0), focus_to_sample_m=0.0 if z1 is None else z1,
                    sample_to_detector_m=0.0 if z1 is None else distance_m)


def _external_meta(f, t: np.ndarray, signs, pattern, energy_kev: float, distance_m: float,
                   pixel_m: float) -> dict:
    """Defaults for a CXI file not written by cdibench: one-angle far-field ptychography."""
    if distance_m == 0:
        raise ValueError(f"{PATHS['distance']}: expected a positive number in m, got 0.0")
    sampling = units.wavelength_m(energy_kev) * distance_m / (np.array(pattern) * pixel_m)
    if not np.isclose(sampling[0], sampling[1], rtol=1e-6):
        raise ValueError(f"{PATHS['data']}: pattern shape {pattern} gives non-square object pixels "
                         f"{sampling.tolist()} m; expected a square pattern")
    object_pixel_m = float(sampling[0])
    c = _positions(t, object_pixel_m, signs, (0, 0), (0, 0))  # probe centre - object centre [px]
    c -= (c.max(axis=0) + c.min(axis=0)) / 2
    object_shape = np.array(object_shape_for_scan(c, pattern, EXTERNAL_MARGIN_PX))
    if object_shape.max() > MAX_OBJECT_PX:
        raise ValueError(f"{PATHS['translation']}: the scan spans {(object_shape - pattern).tolist()} px "
                         f"of {object_pixel_m:.3g} m; expected at most {MAX_OBJECT_PX} px "
                         "(translation in m expected)")
    positions = top_left_positions(c, pattern, object_shape)
    return dict(kind="ptycho-far", detection="far", object_shape=tuple(int(v) for v in object_shape),
                object_pixel_m=object_pixel_m, positions_px=positions[None], angles_rad=np.zeros(1),
                support=None, truth=None, seed=None, provenance={}, spec_toml="")


def _mask(f, shape4: tuple) -> np.ndarray:
    mask = _array(f, PATHS["mask"], "biu", required=False)
    if mask is None:
        return np.zeros(shape4[2:], dtype=np.uint32)
    if mask.shape == (shape4[0] * shape4[1], *shape4[2:]):
        mask = mask.reshape(shape4)
    return mask


def _read(f: h5py.File, probe_override) -> Dataset:
    _integers(f, "cxi_version", (), 1, 10**6)
    data = read_intensities(f)
    pattern = data.shape[1:]
    energy_kev = read_energy_kev(f)
    distance_m = _number(f, PATHS["distance"], "m", allow_zero=True)
    pixel_m, signs = read_detector_pixel(f)
    t = read_translation(f, len(data))
    if _node(f, CDIBENCH, required=False) is not None:
        meta = _own_meta(f, t, signs, pattern)
    else:
        meta = _external_meta(f, t, signs, pattern, energy_kev, distance_m, pixel_m)
    shape4 = (*meta["positions_px"].shape[:2], *pattern)
    try:
        geometry = _geometry(meta, energy_kev, distance_m, pixel_m)
    except ValueError as exc:
        field = str(exc).split()[0]
        raise ValueError(f"{FIELD_PATHS.get(field, DETECTOR)}: {exc}") from exc
    return Dataset(intensities=data.reshape(shape4), probe_guess=_probe(f, probe_override),
                   mask=_mask(f, shape4), geometry=geometry, **meta)


def _where(field: str) -> str:
    if field.startswith("truth."):
        return f"{CDIBENCH}/truth/{field[6:]}"
    return FIELD_PATHS.get(field, field)


def load_cxi(path, *, probe_guess: np.ndarray | None = None) -> Dataset:
    """Read a CXI file (written by :func:`save_cxi` or external) and validate every field.

    Bad or missing content raises ValueError/TypeError naming the HDF5 path (and the Dataset
    field), the value and what was expected; a truncated/corrupt/non-HDF5 file raises ValueError
    naming the file. ``probe_guess`` (complex (n_modes, n_y, n_x)) is used only when the file
    holds no probe (external data). Returns a validated Dataset.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: cannot be opened as HDF5; the file is truncated, corrupt or "
                         f"not HDF5 ({exc})") from exc
    try:
        with f:
            ds = _read(f, probe_guess)
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"{path}: reading failed; the file is truncated or corrupt ({exc})") from exc
    try:
        return validate_dataset(ds)
    except FieldValueError as exc:
        raise ValueError(f"{_where(exc.field)}: {exc}") from exc
    except FieldTypeError as exc:
        raise TypeError(f"{_where(exc.field)}: {exc}") from exc
