"""Scan patterns and probe positions on the object array.

Two coordinate systems, both (row, col) float64 in object pixels:

- offsets: position of the probe centre relative to the scan centre, mean 0 (:func:`scan_offsets_px`);
- positions: top-left corner of the probe window on the object array (:func:`top_left_positions`),
  the ``Dataset.positions_px`` convention. A window at position p covers the object pixels
  floor(p) .. ceil(p) + probe_n - 1 (subpixel shifts interpolate between neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from cdibench.config import require

SCAN_TYPES = ("raster", "fermat", "single")
GOLDEN_ANGLE_RAD = np.pi * (3 - np.sqrt(5))


@dataclass(frozen=True)
class ScanConfig:
    """Scan pattern.

    type: "raster" (rows x cols grid, row-major order), "fermat" (Fermat spiral of n_positions
        points) or "single" (one position at the centre).
    shape: raster (rows, cols). n_positions: fermat point count.
    step_px, step_m: grid pitch (raster) or mean nearest-neighbour distance (fermat), in object
        pixels or metres; exactly one of them for raster and fermat.
    random_offset_px: known uniform offsets in [-a, a] per axis added to the nominal positions to
        break raster periodicity; they are part of the recorded positions.
    """

    type: str = "raster"
    shape: tuple[int, int] = (1, 1)
    n_positions: int = 1
    step_px: float | None = None
    step_m: float | None = None
    random_offset_px: float = 0.0

    def __post_init__(self):
        require(self.type in SCAN_TYPES, "scan.type", self.type, f"one of {SCAN_TYPES}")
        require(len(self.shape) == 2 and all(isinstance(n, int) and n >= 1 for n in self.shape),
                "scan.shape", self.shape, "(rows, cols) integers >= 1")
        require(isinstance(self.n_positions, int) and self.n_positions >= 1, "scan.n_positions",
                self.n_positions, "an integer >= 1")
        for name in ("step_px", "step_m"):
            value = getattr(self, name)
            require(value is None or (np.isfinite(value) and value > 0), f"scan.{name}", value,
                    "a finite number > 0")
        if self.type != "single":
            require((self.step_px is None) != (self.step_m is None), "scan.step_px", self.step_px,
                    f"exactly one of scan.step_px, scan.step_m for a {self.type} scan "
                    f"(scan.step_m = {self.step_m!r})")
        require(np.isfinite(self.random_offset_px) and self.random_offset_px >= 0,
                "scan.random_offset_px", self.random_offset_px, "a finite number >= 0")


def _raster(shape: tuple[int, int], step_px: float) -> np.ndarray:
    """Row-major grid of rows x cols points with pitch ``step_px``, float64 (rows * cols, 2)."""
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], axis=1) * float(step_px)


def _fermat(n_positions: int, step_px: float) -> np.ndarray:
    """Fermat spiral r = c sqrt(k), theta = k * golden angle, k = 0 .. n - 1; float64 (n, 2).

    c is chosen so that the mean nearest-neighbour distance equals ``step_px`` exactly: the unit
    spiral (c = 1) is built, its mean nearest-neighbour distance measured with a k-d tree, and the
    pattern scaled by step_px / that distance (the spiral is self-similar, so this is exact).
    """
    k = np.arange(n_positions, dtype=np.float64)
    theta_rad = k * GOLDEN_ANGLE_RAD
    unit = np.sqrt(k)[:, None] * np.stack([np.sin(theta_rad), np.cos(theta_rad)], axis=1)
    if n_positions == 1:
        return unit
    distances, _ = cKDTree(unit).query(unit, k=2)
    return unit * (step_px / distances[:, 1].mean())


def _step_px(config: ScanConfig, pixel_size_m: float) -> float:
    """The scan step in object pixels, from step_px or step_m / pixel_size_m."""
    return config.step_px if config.step_px is not None else config.step_m / pixel_size_m


def scan_offsets_px(config: ScanConfig, pixel_size_m: float, rng: np.random.Generator) -> np.ndarray:
    """(row, col) offsets [object px] of the probe centre from the scan centre, float64 (n_positions, 2).

    The nominal pattern plus the random offsets (drawn only when random_offset_px > 0) is
    re-centred so that the mean offset is exactly 0. ``pixel_size_m`` [m] converts step_m.
    """
    require(np.isfinite(pixel_size_m) and pixel_size_m > 0, "pixel_size_m", pixel_size_m,
            "a finite number > 0")
    if config.type == "raster":
        offsets = _raster(config.shape, _step_px(config, pixel_size_m))
    elif config.type == "fermat":
        offsets = _fermat(config.n_positions, _step_px(config, pixel_size_m))
    else:
        offsets = np.zeros((1, 2))
    if config.random_offset_px > 0:
        offsets = offsets + rng.uniform(-config.random_offset_px, config.random_offset_px, offsets.shape)
    return offsets - offsets.mean(axis=0)


def top_left_positions(offsets_px: np.ndarray, probe_shape: tuple[int, int],
                       object_shape: tuple[int, int]) -> np.ndarray:
    """Top-left corners [object px] of the probe windows, float64 (n, 2).

    The scan centre sits at the object centre pixel object_n // 2, and the probe centre pixel
    probe_n // 2 sits at object_n // 2 + offset: p = object_n // 2 + offset - probe_n // 2.
    """
    centre = np.array(object_shape[-2:]) // 2 - np.array(probe_shape[-2:]) // 2
    return np.asarray(offsets_px, dtype=np.float64) + centre


def check_positions_inside(positions_px: np.ndarray, probe_shape: tuple[int, int],
                           object_shape: tuple[int, int], name: str = "positions_px") -> None:
    """Raise ValueError naming ``name`` unless every probe window lies inside the object.

    positions_px: float (..., 2) top-left (row, col) corners. Requires finite values with
    floor(p) >= 0 and ceil(p) + probe_n <= object_n on both axes; the message gives the worst
    offending value, its index and the allowed range.
    """
    positions = np.asarray(positions_px, dtype=np.float64)
    require(positions.ndim >= 1 and positions.shape[-1] == 2, f"{name}.shape", positions.shape, "(..., 2)")
    bad = ~np.isfinite(positions)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}[{', '.join(map(str, index))}] = {float(positions[index])} is invalid: "
                         f"expected a finite number")
    high = np.array(object_shape[-2:], dtype=np.float64) - np.array(probe_shape[-2:])
    excess = np.maximum(-np.floor(positions), np.ceil(positions) - high)
    if excess.max() > 0:
        index = tuple(int(i) for i in np.unravel_index(np.argmax(excess), excess.shape))
        axis = ("row", "col")[index[-1]]
        raise ValueError(
            f"{name}[{', '.join(map(str, index))}] = {float(positions[index])} ({axis}) puts the probe "
            f"window {tuple(probe_shape[-2:])} outside the object {tuple(object_shape[-2:])}: expected "
            f"{axis} positions in [0, {high[index[-1]]:g}]")


def jitter_positions(positions_px: np.ndarray, rms_px: float, rng: np.random.Generator) -> np.ndarray:
    """Positions plus Gaussian errors of standard deviation ``rms_px`` per axis, float64 (..., 2).

    Models the experimental position error: the TRUE positions differ from the recorded ones by
    this amount.
    """
    require(np.isfinite(rms_px) and rms_px >= 0, "rms_px", rms_px, "a finite number >= 0")
    positions = np.asarray(positions_px, dtype=np.float64)
    return positions + rng.normal(0.0, rms_px, positions.shape)


def object_shape_for_scan(offsets_px: np.ndarray, probe_shape: tuple[int, int],
                          margin_px: int) -> tuple[int, int]:
    """Smallest even (n_y, n_x) whose object holds every probe window plus ``margin_px`` on each side.

    offsets_px: float (n, 2) from :func:`scan_offsets_px`; the windows are placed with
    :func:`top_left_positions`, whose positions then satisfy margin_px <= floor(p) and
    ceil(p) + probe_n + margin_px <= object_n.
    """
    require(isinstance(margin_px, (int, np.integer)) and margin_px >= 0, "margin_px", margin_px,
            "an integer >= 0")
    offsets = np.asarray(offsets_px, dtype=np.float64).reshape(-1, 2)
    probe = np.array(probe_shape[-2:])
    # with n even, n // 2 = n / 2: floor(n / 2 + o - probe // 2) = n / 2 + floor(o) - probe // 2
    below = margin_px + probe // 2 - np.floor(offsets.min(axis=0))
    above = margin_px + probe - probe // 2 + np.ceil(offsets.max(axis=0))
    half = np.maximum(below, above).astype(int)
    return int(2 * half[0]), int(2 * half[1])
