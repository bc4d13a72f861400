"""Detector effects: finite pixel size (binning), beamstop, dead columns, saturation; pixel masks.

Pixel-mask bits follow the CXI ``pixel_mask`` convention (CXI file format, F. Maia,
github.com/FilipeMaia/CXI ``cxi_file_format.pdf``; Maia, Nature Methods 9, 854 (2012)). The
specification PDF itself was not available here: the bit values are taken from the
implementations that cite it, Cheetah ``detectorObject.h`` (A. Barty, CFEL) and Condor
``condor/utils/pixelmask.py`` (Hantke, Maia, Ekeberg), which agree. Masks are uint32, 0 = good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench.config import require

PIXEL_IS_INVALID = np.uint32(0x1)
PIXEL_IS_SATURATED = np.uint32(0x2)
PIXEL_IS_HOT = np.uint32(0x4)
PIXEL_IS_DEAD = np.uint32(0x8)
PIXEL_IS_SHADOWED = np.uint32(0x10)  # beamstop
PIXEL_IS_IN_PEAKMASK = np.uint32(0x20)
PIXEL_IS_TO_BE_IGNORED = np.uint32(0x40)
PIXEL_IS_BAD = np.uint32(0x80)
PIXEL_IS_OUT_OF_RESOLUTION_LIMITS = np.uint32(0x100)
PIXEL_IS_MISSING = np.uint32(0x200)
PIXEL_IS_NOISY = np.uint32(0x400)
PIXEL_IS_ARTIFACT_CORRECTED = np.uint32(0x800)
PIXEL_FAILED_ARTIFACT_CORRECTION = np.uint32(0x1000)
PIXEL_IS_PEAK_FOR_HITFINDER = np.uint32(0x2000)
PIXEL_IS_PHOTON_BACKGROUND_CORRECTED = np.uint32(0x4000)


@dataclass(frozen=True)
class DetectorConfig:
    """Detector model, in detector pixels.

    binning: the pattern is computed on a ``binning``-times finer reciprocal grid and each detector
        pixel sums binning x binning samples (finite pixel size).
    beamstop_radius_px: radius of the shadowed disk centred at (n_y // 2, n_x // 2); 0 = none.
    saturation_photons: counts above this are clipped and flagged; None = no saturation.
    dead_columns: column indices that read 0 and are flagged dead.
    """

    binning: int = 1
    beamstop_radius_px: float = 0.0
    saturation_photons: float | None = None
    dead_columns: tuple[int, ...] = ()

    def __post_init__(self):
        require(isinstance(self.binning, int) and self.binning >= 1, "detector.binning", self.binning,
                "an integer >= 1")
        require(np.isfinite(self.beamstop_radius_px) and self.beamstop_radius_px >= 0,
                "detector.beamstop_radius_px", self.beamstop_radius_px, "a finite number >= 0")
        require(self.saturation_photons is None or (np.isfinite(self.saturation_photons)
                                                    and self.saturation_photons > 0),
                "detector.saturation_photons", self.saturation_photons, "None or a finite number > 0")
        require(all(isinstance(c, int) and c >= 0 for c in self.dead_columns), "detector.dead_columns",
                self.dead_columns, "integers >= 0")


def bin_pixels(intensities: np.ndarray, binning: int) -> np.ndarray:
    """Sum b x b blocks: (..., n_y * b, n_x * b) -> (..., n_y, n_x), same dtype (float32 in the simulator)."""
    intensities = np.asarray(intensities)
    n_y, n_x = intensities.shape[-2:]
    require(n_y % binning == 0 and n_x % binning == 0, "intensities.shape", intensities.shape,
            f"last two axes divisible by binning = {binning}")
    blocks = intensities.reshape(intensities.shape[:-2] + (n_y // binning, binning, n_x // binning, binning))
    return blocks.sum(axis=(-3, -1), dtype=np.float64).astype(intensities.dtype)


def detector_mask(config: DetectorConfig, shape: tuple[int, int]) -> np.ndarray:
    """Static pixel mask, uint32 (n_y, n_x): SHADOWED on the beamstop disk, DEAD on dead columns."""
    n_y, n_x = shape
    mask = np.zeros((n_y, n_x), dtype=np.uint32)
    if config.beamstop_radius_px > 0:
        y = (np.arange(n_y) - n_y // 2)[:, None]
        x = (np.arange(n_x) - n_x // 2)[None, :]
        mask[np.hypot(y, x) <= config.beamstop_radius_px] |= PIXEL_IS_SHADOWED
    require(all(c < n_x for c in config.dead_columns), "detector.dead_columns", config.dead_columns,
            f"column indices < n_x = {n_x}")
    mask[:, list(config.dead_columns)] |= PIXEL_IS_DEAD
    return mask


def apply_detector(intensities: np.ndarray, config: DetectorConfig,
                   mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero masked pixels, then clip at saturation.

    intensities: float32 (..., n_y, n_x) photons; mask: uint32 (n_y, n_x) from :func:`detector_mask`.
    Returns float32 intensities of the same shape and the mask: the static (n_y, n_x) mask without
    saturation, else a uint32 mask of the intensities' shape with PIXEL_IS_SATURATED where the
    counts were clipped (clipped pixels keep the saturation value, as a real detector reads).
    """
    data = np.where(mask != 0, np.float32(0), np.asarray(intensities, dtype=np.float32))
    if config.saturation_photons is None:
        return data, mask
    saturated = data > config.saturation_photons
    full_mask = np.where(saturated, mask | PIXEL_IS_SATURATED, mask).astype(np.uint32)
    return np.minimum(data, np.float32(config.saturation_photons)), full_mask
