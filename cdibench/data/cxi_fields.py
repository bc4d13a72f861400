"""Where cdibench's CXI 1.6 files keep each field, and the readers of the standard CXI fields that
every file has (energy or wavelength, detector pixel and orientation, frames, translations), each
checked with an error naming its HDF5 path. The file as a whole: cdibench.data.cxi."""

from __future__ import annotations

import warnings

import numpy as np

from cdibench import units
from cdibench.data.hdf5_fields import array as _array
from cdibench.data.hdf5_fields import dataset as _dataset
from cdibench.data.hdf5_fields import node as _node
from cdibench.data.hdf5_fields import number as _number
from cdibench.data.validate import ENERGY_J_RANGE

DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
GEOMETRY = "entry_1/sample_1/geometry_1"
CDIBENCH = "entry_1/cdibench"
PATHS = {
    "data": f"{DETECTOR}/data", "distance": f"{DETECTOR}/distance", "mask": f"{DETECTOR}/mask",
    "x_pixel_size": f"{DETECTOR}/x_pixel_size", "y_pixel_size": f"{DETECTOR}/y_pixel_size",
    "basis_vectors": f"{DETECTOR}/basis_vectors", "energy": f"{SOURCE}/energy",
    "wavelength": f"{SOURCE}/wavelength", "illumination": f"{SOURCE}/illumination",
    "translation": f"{GEOMETRY}/translation",
}
# Dataset field (as named by validate_dataset) -> where load_cxi read it from.
FIELD_PATHS = {
    "intensities": PATHS["data"], "positions_px": PATHS["translation"], "mask": PATHS["mask"],
    "probe_guess": PATHS["illumination"], "geometry.energy_kev": PATHS["energy"],
    "geometry.distance_m": PATHS["distance"], "geometry.detector_pixel_m": PATHS["x_pixel_size"],
    "geometry.object_pixel_m": f"{CDIBENCH}/object_pixel_m", "geometry.detection": f"{CDIBENCH}/detection",
    "geometry.two_theta_rad": f"{CDIBENCH}/two_theta_rad",
    "geometry.focus_to_sample_m": f"{CDIBENCH}/focus_to_sample_m",
    "geometry.sample_to_detector_m": PATHS["distance"],
    **{name: f"{CDIBENCH}/{name}" for name in ("kind", "angles_rad", "object_shape", "support",
                                               "seed", "spec_toml", "provenance")},
}


def read_energy_kev(f) -> float:
    lo, hi = ENERGY_J_RANGE
    if _node(f, PATHS["energy"], required=False) is None:
        wavelength = _number(f, PATHS["wavelength"], "m", required=False)
        if wavelength is None:
            raise ValueError(f"{PATHS['energy']}: missing (and no {PATHS['wavelength']})")
        energy_j = float(units.kev_to_joule(units.energy_kev(wavelength)))
        if not lo <= energy_j <= hi:
            raise ValueError(f"{PATHS['wavelength']}: expected an X-ray wavelength in m, got "
                             f"{wavelength!r} (looks like nm or Angstrom)")
        return float(units.energy_kev(wavelength))
    energy_j = _number(f, PATHS["energy"], "J")
    if not lo <= energy_j <= hi:
        guess = "keV" if energy_j < 30 else "eV or keV" if energy_j <= 1e3 else "eV"
        raise ValueError(f"{PATHS['energy']}: expected a photon energy in J within [{lo:g}, {hi:g}], "
                         f"got {energy_j!r} (looks like {guess}, expected J)")
    energy_kev = float(units.joule_to_kev(energy_j))
    wavelength = _number(f, PATHS["wavelength"], "m", required=False)
    if wavelength is not None and not np.isclose(wavelength, units.wavelength_m(energy_kev), rtol=1e-4):
        raise ValueError(f"{PATHS['wavelength']}: {wavelength!r} m disagrees with {PATHS['energy']} "
                         f"{energy_j!r} J (lambda = h c / E = {float(units.wavelength_m(energy_kev))!r} m)")
    return energy_kev


def read_detector_pixel(f) -> tuple[float, tuple[int, int]]:
    """Square detector pixel [m] and the (row, col) axis signs from basis_vectors (+1 = +y/+x)."""
    px = _number(f, PATHS["x_pixel_size"], "m", required=False)
    py = _number(f, PATHS["y_pixel_size"], "m", required=False)
    if px is None and py is None:
        raise ValueError(f"{PATHS['x_pixel_size']}: missing (and no y_pixel_size)")
    px, py = px or py, py or px
    if not np.isclose(px, py, rtol=1e-6):
        raise ValueError(f"{PATHS['y_pixel_size']}: {py!r} m differs from x_pixel_size {px!r} m; "
                         "expected square pixels")
    basis = _array(f, PATHS["basis_vectors"], "fiu", required=False)
    if basis is None:
        return px, (1, 1)
    basis = basis.T if basis.shape == (3, 2) else basis
    path = PATHS["basis_vectors"]
    if basis.shape != (2, 3) or not np.all(np.isfinite(basis)):
        raise ValueError(f"{path}: expected finite (2, 3) vectors in m, got shape {basis.shape}: "
                         f"{basis.tolist()!r}")
    off_axis = np.abs(basis[[0, 0, 1, 1], [0, 2, 1, 2]]).max()
    row, col = basis[0, 1], basis[1, 0]
    if off_axis > 1e-6 * min(abs(row), abs(col)) or not np.allclose(
            [abs(row), abs(col)], [py, px], rtol=1e-4):
        raise ValueError(f"{path}: got {basis.tolist()}; expected axis-aligned rows "
                         f"[[0, +-{py:g}, 0], [+-{px:g}, 0, 0]] matching the pixel sizes")
    return px, (int(np.sign(row)), int(np.sign(col)))


def read_intensities(f) -> np.ndarray:
    """Detector data as float32 (N, n_y, n_x) (a single 2D frame becomes N = 1)."""
    node = _dataset(f, PATHS["data"], "fiu", (2, 3), True, "entry_1/data_1/data")
    path = node.name.lstrip("/")
    data = node[()] if node.dtype == np.float32 else node.astype(np.float32)[()]
    data = data[None] if data.ndim == 2 else data
    if data.shape[0] == 0:
        raise ValueError(f"{path}: expected at least one frame, got shape {data.shape}")
    return data


def read_translation(f, n: int) -> np.ndarray:
    node = _dataset(f, PATHS["translation"], "fiu", None, True, "entry_1/data_1/translation")
    path, t = node.name.lstrip("/"), np.asarray(node[()], dtype=np.float64)
    if t.shape != (n, 3):
        if t.shape != (3, n):
            raise ValueError(f"{path}: expected shape ({n}, 3) as (x, y, z) in m, got {t.shape}")
        warnings.warn(f"{path}: stored as (3, {n}); read as its transpose ({n}, 3)", stacklevel=3)
        t = t.T
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(f"{path}: non-finite value at index {tuple(map(int, np.argwhere(bad)[0]))}")
    return t
