"""Measured intensities from exit waves: far-field (Fraunhofer) and near-field detection.

Modes (spatial partial coherence) add incoherently: I = sum_k |D psi_k|^2. Both functions can work
on a grid ``upsample`` times finer than the detector's (the simulator's guard against the inverse
crime) and return intensities on the detector grid, photons conserved.
"""

from __future__ import annotations

import numpy as np

from cdibench.physics.detector import bin_pixels
from cdibench.physics.fft import fft2, fft2c, ifft2c
from cdibench.physics.propagators import propagate


def _centre_crop(arr: np.ndarray, n_y: int, n_x: int) -> np.ndarray:
    y0 = arr.shape[-2] // 2 - n_y // 2
    x0 = arr.shape[-1] // 2 - n_x // 2
    return arr[..., y0:y0 + n_y, x0:x0 + n_x]


def _centre_crop_unshifted(arr: np.ndarray, n_y: int, n_x: int) -> np.ndarray:
    """``_centre_crop(fftshift(arr))`` read straight from unshifted FFT order (no full-size roll):
    four block copies; output row i is input row (i - n_y // 2) mod N_y, likewise columns."""
    big_y, big_x = arr.shape[-2:]
    a, b = n_y // 2, n_x // 2
    out = np.empty(arr.shape[:-2] + (n_y, n_x), arr.dtype)
    for o_y, i_y in ((slice(0, a), slice(big_y - a, big_y)), (slice(a, n_y), slice(0, n_y - a))):
        for o_x, i_x in ((slice(0, b), slice(big_x - b, big_x)), (slice(b, n_x), slice(0, n_x - b))):
            out[..., o_y, o_x] = arr[..., i_y, i_x]
    return out


def _centre_pad(arr: np.ndarray, n_y: int, n_x: int) -> np.ndarray:
    out = np.zeros(arr.shape[:-2] + (n_y, n_x), dtype=arr.dtype)
    y0 = n_y // 2 - arr.shape[-2] // 2
    x0 = n_x // 2 - arr.shape[-1] // 2
    out[..., y0:y0 + arr.shape[-2], x0:x0 + arr.shape[-1]] = arr
    return out


def farfield_intensity(exit_waves: np.ndarray, upsample: int = 1, binning: int = 1,
                       overwrite: bool = False) -> np.ndarray:
    """Fraunhofer intensities summed over modes.

    exit_waves: complex64 (..., n_modes, w_y * upsample, w_x * upsample) sampled ``upsample`` times
    finer than the reconstruction grid; returns float32 (..., w_y, w_x), zero frequency at the
    centre. A finer real-space grid reaches larger angles: the central w_y x w_x region (times
    ``binning``) is what the detector sees. ``binning``: each detector pixel integrates
    binning x binning samples of a pattern computed with a field of view ``binning`` times larger
    (zero-padded exit wave): the finite pixel size. overwrite: exit_waves may be reused as scratch.
    """
    fine_y, fine_x = exit_waves.shape[-2:]
    w_y, w_x = fine_y // upsample, fine_x // upsample
    waves = _centre_pad(exit_waves, fine_y * binning, fine_x * binning) if binning > 1 else exit_waves
    # |fft2c(x)|^2 = fftshift(|fft2(x)|^2): the centring rolls only change phases, so roll nothing;
    # crop to the detector before squaring (a quarter of the work at upsample 2)
    far = _centre_crop_unshifted(fft2(waves, overwrite=overwrite or binning > 1), w_y * binning, w_x * binning)
    intensity = far.real**2
    intensity += far.imag**2
    intensity = intensity[..., 0, :, :] if intensity.shape[-3] == 1 else intensity.sum(axis=-3)
    return bin_pixels(intensity, binning).astype(np.float32) if binning > 1 else intensity.astype(np.float32)


def nearfield_intensity(exit_waves: np.ndarray, kernel: np.ndarray | None, upsample: int = 1,
                        overwrite: bool = False) -> np.ndarray:
    """Near-field (angular spectrum) intensities summed over modes.

    exit_waves: complex64 (..., n_modes, n_y * upsample, n_x * upsample); kernel: transfer function
    of the fine grid, (n_y * upsample, n_x * upsample) or one per wave broadcast against exit_waves
    (e.g. physics.ptychography.beam_frame_kernels (n, 1, ., .)), or None for contact with no
    shift (distance 0). Returns float32 (..., n_y, n_x), each detector pixel integrating
    upsample x upsample samples. overwrite: exit_waves may be reused as scratch.
    """
    waves = exit_waves if kernel is None else propagate(exit_waves, kernel, overwrite=overwrite)
    intensity = (waves.real**2 + waves.imag**2).sum(axis=-3)
    return (bin_pixels(intensity, upsample) if upsample > 1 else intensity).astype(np.float32)


def fourier_upsample(field: np.ndarray, factor: int) -> np.ndarray:
    """Band-limited interpolation of complex64 (..., n_y, n_x) onto a grid ``factor`` times finer.

    Coarse sample m maps to fine sample factor * m (about the centre n // 2); power scales by factor^2.
    """
    if factor == 1:
        return field
    n_y, n_x = field.shape[-2:]
    spectrum = _centre_pad(fft2c(field), n_y * factor, n_x * factor)
    return (ifft2c(spectrum) * factor).astype(np.complex64)
