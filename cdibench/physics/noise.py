"""Counting noise and incident-flux fluctuations: ``measured = noise(expected photons)``.

The detector model is a thresholded photon counter: Poisson counts, plus Gaussian read noise,
rounded to whole photons and clipped at 0 (negative readings are thresholded away, as an
integrating detector's photon-conversion step does). A detector background (stray scattering,
dark counts: the same expected photons in every pixel of every frame) adds to the signal before
the counting. With neither Poisson nor read noise the expected intensities (plus background) pass
through unchanged (noise-free reference data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench.config import require


@dataclass(frozen=True)
class NoiseConfig:
    """Photon budget and noise.

    photons_per_frame: incident photons per exposure (> 0); the simulator scales the probe power
        to it. poisson: draw Poisson counts. read_noise_photons: Gaussian sigma [photons] (>= 0).
    flux_fluctuation_rms: relative rms of the per-frame incident flux (>= 0), an experimental error.
    background_photons: expected background photons per pixel and frame (> 0), constant over
        pixels and frames, counted (Poisson) with the signal; not scaled by the flux. None (the
        key left out of a spec): no background, and the spec's TOML and hash stay as they were.
    """

    photons_per_frame: float = 1e6
    poisson: bool = True
    read_noise_photons: float = 0.0
    flux_fluctuation_rms: float = 0.0
    background_photons: float | None = None

    def __post_init__(self):
        require(np.isfinite(self.photons_per_frame) and self.photons_per_frame > 0, "noise.photons_per_frame",
                self.photons_per_frame, "a finite number > 0")
        require(isinstance(self.poisson, bool), "noise.poisson", self.poisson, "true or false")
        for name in ("read_noise_photons", "flux_fluctuation_rms"):
            value = getattr(self, name)
            require(np.isfinite(value) and value >= 0, f"noise.{name}", value, "a finite number >= 0")
        require(self.background_photons is None or (np.isfinite(self.background_photons) and self.background_photons > 0),
                "noise.background_photons", self.background_photons, "a finite number > 0 (leave it out for none)")


def flux_factors(n_frames: int, rms: float, rng: np.random.Generator) -> np.ndarray:
    """Per-frame incident-flux factors, float32 (n_frames,), positive, mean 1, relative rms ``rms``.

    Lognormal: sigma^2 = ln(1 + rms^2), mu = -sigma^2 / 2, so E[f] = 1 and std(f) = rms.
    """
    require(isinstance(n_frames, (int, np.integer)) and n_frames >= 1, "n_frames", n_frames,
            "an integer >= 1")
    require(np.isfinite(rms) and rms >= 0, "flux_fluctuation_rms", rms, "a finite number >= 0")
    sigma = np.sqrt(np.log1p(rms**2))
    return rng.lognormal(-sigma**2 / 2, sigma, n_frames).astype(np.float32)


def apply_noise(intensities: np.ndarray, config: NoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """Measured counts from expected photons, float32 of the input shape (n_frames, n_y, n_x).

    intensities: float32 expected photon counts (finite, >= 0). Plus ``config.background_photons``
    in every pixel, then Poisson counts when ``config.poisson``, then Gaussian read noise, then
    rounding to whole photons and clipping at 0.
    """
    expected = np.asarray(intensities, dtype=np.float64)
    n_bad = np.count_nonzero(~(np.isfinite(expected) & (expected >= 0)))
    require(n_bad == 0, "intensities", f"<array with {n_bad} NaN, Inf or negative values>",
            "finite expected photon counts >= 0")
    if config.background_photons is not None:
        expected = expected + config.background_photons
    if not config.poisson and config.read_noise_photons == 0:
        return expected.astype(np.float32)
    counts = rng.poisson(expected).astype(np.float64) if config.poisson else expected
    if config.read_noise_photons > 0:
        counts = counts + rng.normal(0.0, config.read_noise_photons, counts.shape)
    return np.clip(np.rint(counts), 0, None).astype(np.float32)
