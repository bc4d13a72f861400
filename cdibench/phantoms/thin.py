"""Thin (2D) test objects stored as a single slice: Siemens star, bundled images, random blobs.

Every generator has the signature ``fn(config, shape_px, voxel_size_m, energy_kev, rng) -> Phantom``
with ``shape_px = (1, n_y, n_x)``. A structure of physical thickness t in a slice of thickness
dz = voxel_size_m is stored as delta_eff = delta * t / dz, so that the projected phase is
-k delta t exactly as for the real slab. Centres sit on pixel (n_y // 2, n_x // 2), the zero of the
centred FFT.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import skimage.color
import skimage.data
import skimage.transform

from cdibench import units
from cdibench.config import require
from cdibench.phantoms.base import Phantom
from cdibench.phantoms.materials import material

# Images shipped inside the scikit-image wheel (no download through pooch).
BUNDLED_IMAGES = ("astronaut", "brick", "camera", "cell", "chelsea", "checkerboard", "clock",
                  "coffee", "coins", "grass", "gravel", "horse", "hubble_deep_field",
                  "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
                  "rocket", "shepp_logan_phantom", "text")

_SUPERSAMPLE = 4
_CHUNK_ELEMENTS = 1 << 22  # bound on temporary sub-sample arrays (~32 MB in float64)


def check_grid(shape_px, voxel_size_m: float, energy_kev: float, *, thin: bool) -> tuple[int, int, int]:
    """Validate the grid; returns ``shape_px`` as three ints (n_z, n_y, n_x). Thin: n_z must be 1."""
    ok = (isinstance(shape_px, (tuple, list)) and len(shape_px) == 3
          and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
                  for n in shape_px))
    require(ok, "shape_px", shape_px, "three positive integers (n_z, n_y, n_x)")
    if thin:
        require(shape_px[0] == 1, "shape_px", shape_px, "n_z = 1 for a thin (2D) phantom")
    require(isinstance(voxel_size_m, numbers.Real) and voxel_size_m > 0, "voxel_size_m",
            voxel_size_m, "a number > 0 [m]")
    require(isinstance(energy_kev, numbers.Real) and energy_kev > 0, "energy_kev", energy_kev,
            "a number > 0 [keV]")
    return tuple(int(n) for n in shape_px)


def phantom_meta(type_name: str, config, materials: list[dict], **extra) -> dict:
    """The ``Phantom.meta`` record shared by all generators: type, parameters, materials."""
    return {"type": type_name, "params": dataclasses.asdict(config), "materials": materials, **extra}


def _supersampled_2d(inside, n_y: int, n_x: int, s: int = _SUPERSAMPLE) -> np.ndarray:
    """Area fraction, float64 (n_y, n_x), of the region ``inside(y, x) -> bool``.

    ``y``, ``x`` are sub-pixel offsets [px] from the centre pixel (n_y // 2, n_x // 2), broadcast as
    a column and a row. s x s sub-samples per pixel; rows are processed in chunks to bound memory.
    """
    off = (np.arange(s) + 0.5) / s - 0.5
    y_all = ((np.arange(n_y)[:, None] + off) - n_y // 2).ravel()
    x = ((np.arange(n_x)[:, None] + off) - n_x // 2).ravel()[None, :]
    out = np.empty((n_y, n_x))
    rows = max(1, _CHUNK_ELEMENTS // (s * s * n_x))
    for r0 in range(0, n_y, rows):
        r1 = min(r0 + rows, n_y)
        mask = inside(y_all[r0 * s:r1 * s, None], x)
        out[r0:r1] = mask.reshape(r1 - r0, s, n_x, s).mean(axis=(1, 3))
    return out


def _slab(fraction: np.ndarray, delta: float, beta: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(delta, beta) float32 (1, n_y, n_x) of a material covering ``fraction`` (n_y, n_x), times scale."""
    f = fraction[None].astype(np.float32)
    return f * np.float32(delta * scale), f * np.float32(beta * scale)


@dataclass(frozen=True)
class SiemensStarConfig:
    """Siemens star of ``n_spokes`` opaque spokes of ``material`` (``thickness_m`` thick [m]).

    The star radius is ``radius_fraction`` of half the smaller lateral size.
    """

    material: str = "gold"
    material_density_g_cm3: float | None = None
    thickness_m: float = 500e-9
    n_spokes: int = 36
    radius_fraction: float = 0.9

    def __post_init__(self):
        material(self.material, self.material_density_g_cm3, "phantom.material")
        require(self.thickness_m > 0, "phantom.thickness_m", self.thickness_m, "a thickness > 0 [m]")
        require(self.n_spokes >= 2, "phantom.n_spokes", self.n_spokes, "an integer >= 2")
        require(0 < self.radius_fraction <= 1, "phantom.radius_fraction", self.radius_fraction,
                "a fraction in (0, 1]")


def siemens_star(config: SiemensStarConfig, shape_px, voxel_size_m: float, energy_kev: float,
                 rng: np.random.Generator) -> Phantom:
    """Anti-aliased Siemens star; delta, beta float32 (1, n_y, n_x). ``rng`` is unused (no randomness)."""
    _, n_y, n_x = check_grid(shape_px, voxel_size_m, energy_kev, thin=True)
    mat = material(config.material, config.material_density_g_cm3, "phantom.material")
    radius_px = config.radius_fraction * min(n_y, n_x) / 2

    def inside(y, x):
        return (np.hypot(y, x) <= radius_px) & (np.cos(config.n_spokes * np.arctan2(y, x)) > 0)

    delta, beta = _slab(_supersampled_2d(inside, n_y, n_x), *mat.index(energy_kev),
                        config.thickness_m / voxel_size_m)
    meta = phantom_meta("siemens-star", config, [mat.describe(config.material, energy_kev)],
                        physical_thickness_m=config.thickness_m)
    return Phantom(delta, beta, float(voxel_size_m), float(energy_kev), "siemens-star", meta)


@dataclass(frozen=True)
class ImageConfig:
    """A bundled scikit-image picture as phase (and optionally amplitude) of a thin object.

    phase = ``max_phase_rad`` * image in [0, 1]; amplitude = ``min_amplitude`` + (1 -
    ``min_amplitude``) * image in [0, 1], or 1 where ``amplitude_image`` is "". The picture fills
    the central ``fill_fraction`` of each lateral axis; the margin is vacuum.
    """

    phase_image: str = "camera"
    amplitude_image: str = ""
    max_phase_rad: float = 1.0
    min_amplitude: float = 0.5
    fill_fraction: float = 1.0

    def __post_init__(self):
        require(self.phase_image in BUNDLED_IMAGES, "phantom.phase_image", self.phase_image,
                f"one of {BUNDLED_IMAGES}")
        require(self.amplitude_image == "" or self.amplitude_image in BUNDLED_IMAGES,
                "phantom.amplitude_image", self.amplitude_image, f"'' or one of {BUNDLED_IMAGES}")
        require(self.max_phase_rad > 0, "phantom.max_phase_rad", self.max_phase_rad, "a phase > 0 [rad]")
        require(0 < self.min_amplitude <= 1, "phantom.min_amplitude", self.min_amplitude,
                "an amplitude in (0, 1]")
        require(0 < self.fill_fraction <= 1, "phantom.fill_fraction", self.fill_fraction,
                "a fraction in (0, 1]")


def load_image(name: str, shape: tuple[int, int]) -> np.ndarray:
    """Bundled image ``name`` as grey, resized (anti-aliased) to ``shape``, normalised: float64 in [0, 1]."""
    require(name in BUNDLED_IMAGES, "image", name, f"one of {BUNDLED_IMAGES}")
    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 3:
        img = skimage.color.rgb2gray(skimage.color.rgba2rgb(img) if img.shape[-1] == 4 else img)
    img = skimage.transform.resize(img.astype(np.float64), shape, anti_aliasing=True)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros(shape)


def _centred(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``values`` placed at the centre of a zero array of ``shape`` (the vacuum margin)."""
    out = np.zeros(shape)
    o_y, o_x = (shape[0] - values.shape[0]) // 2, (shape[1] - values.shape[1]) // 2
    out[o_y:o_y + values.shape[0], o_x:o_x + values.shape[1]] = values
    return out


def image(config: ImageConfig, shape_px, voxel_size_m: float, energy_kev: float,
          rng: np.random.Generator) -> Phantom:
    """Thin object with ``transmission() == amplitude * exp(-i phase)``; float32 (1, n_y, n_x).

    delta = phase / (k dz), beta = -ln(amplitude) / (k dz) with dz = voxel_size_m. ``rng`` is unused.
    """
    _, n_y, n_x = check_grid(shape_px, voxel_size_m, energy_kev, thin=True)
    inner = (max(1, round(config.fill_fraction * n_y)), max(1, round(config.fill_fraction * n_x)))
    phase = config.max_phase_rad * load_image(config.phase_image, inner)
    amplitude = np.ones(inner)
    if config.amplitude_image:
        a = load_image(config.amplitude_image, inner)
        amplitude = config.min_amplitude + (1 - config.min_amplitude) * a
    k_dz = float(units.wavenumber_per_m(energy_kev)) * voxel_size_m
    delta = _centred(phase, (n_y, n_x)) / k_dz
    beta = _centred(-np.log(amplitude), (n_y, n_x)) / k_dz
    meta = phantom_meta("image", config, [])
    return Phantom(delta[None].astype(np.float32), np.maximum(beta, 0)[None].astype(np.float32),
                   float(voxel_size_m), float(energy_kev), "image", meta)


@dataclass(frozen=True)
class BlobsConfig:
    """Random smooth blobs of ``material``, ``thickness_m`` thick [m].

    A white-noise field smoothed by a Gaussian of ``blob_size_px`` (sigma) [px] is thresholded so
    that blobs cover ``area_fraction`` of the central ``fill_fraction`` box; outside it is vacuum.
    """

    material: str = "gold"
    material_density_g_cm3: float | None = None
    thickness_m: float = 200e-9
    blob_size_px: float = 4.0
    area_fraction: float = 0.4
    fill_fraction: float = 0.8

    def __post_init__(self):
        material(self.material, self.material_density_g_cm3, "phantom.material")
        require(self.thickness_m > 0, "phantom.thickness_m", self.thickness_m, "a thickness > 0 [m]")
        require(self.blob_size_px > 0, "phantom.blob_size_px", self.blob_size_px, "a size > 0 [px]")
        require(0 < self.area_fraction < 1, "phantom.area_fraction", self.area_fraction,
                "a fraction in (0, 1)")
        require(0 < self.fill_fraction <= 1, "phantom.fill_fraction", self.fill_fraction,
                "a fraction in (0, 1]")


def blobs(config: BlobsConfig, shape_px, voxel_size_m: float, energy_kev: float,
          rng: np.random.Generator) -> Phantom:
    """Random blobs; delta, beta float32 (1, n_y, n_x), deterministic given ``rng``."""
    _, n_y, n_x = check_grid(shape_px, voxel_size_m, energy_kev, thin=True)
    mat = material(config.material, config.material_density_g_cm3, "phantom.material")
    inner = (max(1, round(config.fill_fraction * n_y)), max(1, round(config.fill_fraction * n_x)))
    field = scipy.ndimage.gaussian_filter(rng.standard_normal(inner), config.blob_size_px, mode="wrap")
    level = np.quantile(field, 1 - config.area_fraction)
    # Partial-area edge: (field - level) / |grad field| is the signed distance to the contour [px].
    grad = np.hypot(*np.gradient(field)) if min(inner) > 1 else np.ones(inner)
    fraction = np.clip(0.5 + (field - level) / np.maximum(grad, 1e-12), 0, 1)
    delta, beta = _slab(_centred(fraction, (n_y, n_x)), *mat.index(energy_kev),
                        config.thickness_m / voxel_size_m)
    meta = phantom_meta("blobs", config, [mat.describe(config.material, energy_kev)],
                        physical_thickness_m=config.thickness_m)
    return Phantom(delta, beta, float(voxel_size_m), float(energy_kev), "blobs", meta)
