"""Fourier ring / shell correlation, the 1/2-bit threshold, and the resolution they imply."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from cdibench.metrics._checks import as_finite, image_pair


def half_bit_threshold(n_pixels) -> np.ndarray:
    """1/2-bit information threshold (van Heel & Schatz 2005, J. Struct. Biol. 151:250, eq. 17).

    ``T(n) = (0.2071 + 1.9102 / sqrt(n)) / (1.2071 + 0.9102 / sqrt(n))`` with n the number of pixels
    in the ring (2D) or voxels in the shell (3D; the same constants are used). n_pixels: array of
    counts >= 1 -> float64 array of the same shape (T(1) = 1, T -> 0.1716 for large n).
    """
    n = np.asarray(n_pixels, dtype=np.float64)
    if np.any(~np.isfinite(n)) or np.any(n < 1):
        raise ValueError(f"n_pixels must be finite counts >= 1, got min {np.min(n)}")
    root = np.sqrt(n)
    return (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root)


def _fourier_correlation(a, b, n_bins, ndim):
    """Shell correlation of two ``ndim``-D arrays; see :func:`frc`."""
    a, b = image_pair(a, b, ndim=(ndim,), names=("a", "b"))
    for name, x in (("a", a), ("b", b)):
        if not np.any(x):
            raise ValueError(f"{name} is zero everywhere: correlation undefined")
    radius = np.sqrt(sum(np.square(sfft.fftfreq(n).reshape([-1 if i == axis else 1 for i in range(ndim)]))
                         for axis, n in enumerate(a.shape)))  # cycles/px
    n_max = min(a.shape) // 2 + 1
    if n_bins is None:
        step = 1.0 / min(a.shape)
        n_bins = int(np.floor(0.5 / step + 1e-9)) + 1
    else:
        if int(n_bins) != n_bins or not 2 <= n_bins <= n_max:
            raise ValueError(f"n_bins must be an integer in [2, {n_max}] for shape {a.shape}, got {n_bins!r}")
        n_bins = int(n_bins)
        step = 0.5 / (n_bins - 1)
    index = np.rint(radius / step).astype(np.int64).ravel()
    keep = index < n_bins
    index = index[keep]
    spectrum_a = sfft.fftn(a.astype(np.complex128)).ravel()[keep]
    spectrum_b = sfft.fftn(b.astype(np.complex128)).ravel()[keep]
    cross = np.bincount(index, np.real(spectrum_a * np.conj(spectrum_b)), minlength=n_bins)
    power_a = np.bincount(index, np.abs(spectrum_a) ** 2, minlength=n_bins)
    power_b = np.bincount(index, np.abs(spectrum_b) ** 2, minlength=n_bins)
    counts = np.bincount(index, minlength=n_bins)
    denominator = np.sqrt(power_a * power_b)
    values = np.divide(cross, denominator, out=np.zeros(n_bins), where=denominator > 0)
    freq = step * np.arange(n_bins)
    return freq, values, half_bit_threshold(np.maximum(counts, 1))


def frc(a, b, n_bins=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fourier ring correlation of two 2D images.

    a, b: real or complex (n_y, n_x), equal shapes (complex images should share their global phase:
    the real part of the cross-spectrum is used, so FRC of independent images averages to 0).
    Rings are centred on ``k * step`` with ``step = 1 / min(n_y, n_x)`` cycles/px (1 px wide, ring 0
    the zero frequency) up to Nyquist 0.5; corners beyond are dropped. ``n_bins`` (2 to
    ``min(shape) // 2 + 1``) sets ``step = 0.5 / (n_bins - 1)`` instead. Rings where either image has
    no power score 0.

    Returns ``(freq_per_px, frc_values, threshold_half_bit)``, float64 (n_bins,) each: ring centre
    [cycles/px], ``Re sum A conj(B) / sqrt(sum |A|^2 sum |B|^2)`` and :func:`half_bit_threshold` of
    the ring's pixel count.
    """
    return _fourier_correlation(a, b, n_bins, 2)


def fsc(a, b, n_bins=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fourier shell correlation of two real or complex 3D volumes (n_z, n_y, n_x); as :func:`frc`
    with spherical shells and the 1/2-bit threshold of the voxel count per shell."""
    return _fourier_correlation(a, b, n_bins, 3)


def resolution(freq, curve, threshold, pixel_size_m=None) -> tuple[float, float | None]:
    """Resolution from the first crossing of ``curve`` below ``threshold``.

    freq: increasing (n,) [cycles/px], e.g. from :func:`frc`; curve: (n,); threshold: (n,) or a scalar
    (e.g. 1/7); pixel_size_m: optional float > 0. Bin 0 (zero frequency, where FRC is trivially 1) is
    skipped; the crossing is the first bin ``i >= 1`` with ``curve < threshold``, located by linear
    interpolation of ``curve - threshold`` between bins ``i - 1`` and ``i`` (``freq[1]`` if bin 1 is
    already below). Returns ``(res_px, res_m)`` with ``res_px = 1 / f_cross`` and ``res_m`` =
    ``res_px * pixel_size_m`` (None without a pixel size). Documented rule: a curve that never crosses
    is limited by the sampling, ``res_px = 1 / freq[-1]`` (2 px when the bins reach Nyquist).
    """
    freq = as_finite("freq", freq, ndim=(1,), real=True).astype(np.float64)
    curve = as_finite("curve", curve, ndim=(1,), real=True).astype(np.float64)
    threshold = np.broadcast_to(as_finite("threshold", threshold, real=True).astype(np.float64), curve.shape) \
        if np.ndim(threshold) == 0 else as_finite("threshold", threshold, ndim=(1,), real=True).astype(np.float64)
    if not (freq.shape == curve.shape == threshold.shape):
        raise ValueError(f"freq, curve and threshold must have the same length, got {freq.shape}, "
                         f"{curve.shape}, {threshold.shape}")
    if freq.size < 2 or np.any(np.diff(freq) <= 0) or freq[1] <= 0:
        raise ValueError("freq must be strictly increasing with at least 2 bins and freq[1] > 0")
    if pixel_size_m is not None and not (np.isfinite(pixel_size_m) and pixel_size_m > 0):
        raise ValueError(f"pixel_size_m must be a finite number > 0, got {pixel_size_m!r}")
    margin = curve - threshold
    below = np.nonzero(margin[1:] < 0)[0]
    if below.size == 0:
        f_cross = freq[-1]
    elif below[0] == 0:
        f_cross = freq[1]
    else:
        i = below[0] + 1
        f_cross = freq[i - 1] + (freq[i] - freq[i - 1]) * margin[i - 1] / (margin[i - 1] - margin[i])
    res_px = float(1.0 / f_cross)
    return res_px, (None if pixel_size_m is None else res_px * float(pixel_size_m))
