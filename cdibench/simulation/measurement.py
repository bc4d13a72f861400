"""The measurement tail every simulator shares: flux fluctuation, noise, then the detector."""

from __future__ import annotations

import numpy as np

from cdibench.data.spec import DatasetSpec
from cdibench.physics import detector, noise


def measure(expected: np.ndarray, spec: DatasetSpec,
            streams: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Detector counts of noise-free intensities.

    expected: float32 (n_angles, n_positions, n_y, n_x) photons; streams: from
    :func:`cdibench.simulation.seeds.seed_streams` (draws from "flux", then "noise").
    Returns counts float32 of the same shape and the mask of
    :func:`cdibench.physics.detector.apply_detector`.
    """
    n_frames = expected.shape[0] * expected.shape[1]
    flux = noise.flux_factors(n_frames, spec.noise.flux_fluctuation_rms, streams["flux"])
    frames = expected.reshape((n_frames,) + expected.shape[2:]) * flux[:, None, None]
    counts = noise.apply_noise(frames, spec.noise, streams["noise"]).reshape(expected.shape)
    static_mask = detector.detector_mask(spec.detector, expected.shape[-2:])
    counts, mask = detector.apply_detector(counts, spec.detector, static_mask)
    return counts.astype(np.float32), mask
