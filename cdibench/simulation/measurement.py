"""The measurement tail every simulator shares: flux fluctuation, noise (with any detector
background), then the detector."""

from __future__ import annotations

import numpy as np

from cdibench.data.spec import DatasetSpec
from cdibench.physics import detector, noise


def measure(expected: np.ndarray, spec: DatasetSpec,
            streams: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Detector counts of noise-free intensities.

    expected: float32 (n_angles, n_positions, n_y, n_x) photons; streams: from
    :func:`cdibench.simulation.seeds.seed_streams` (draws from "flux", then "noise").
    Returns counts float32 of the same shape, the mask of
    :func:`cdibench.physics.detector.apply_detector` and the true per-frame flux factors, float64
    (n_angles, n_positions) (None without flux fluctuation: every factor is 1).
    """
    n_frames = expected.shape[0] * expected.shape[1]
    flux = noise.flux_factors(n_frames, spec.noise.flux_fluctuation_rms, streams["flux"])
    frames = expected.reshape((n_frames,) + expected.shape[2:]) * flux[:, None, None]
    counts = noise.apply_noise(frames, spec.noise, streams["noise"]).reshape(expected.shape)
    static_mask = detector.detector_mask(spec.detector, expected.shape[-2:])
    counts, mask = detector.apply_detector(counts, spec.detector, static_mask)
    true_flux = flux.astype(np.float64).reshape(expected.shape[:2]) if spec.noise.flux_fluctuation_rms > 0 else None
    return counts.astype(np.float32), mask, true_flux
