"""Centred unitary 2D FFTs (``scipy.fft``, ``norm="ortho"``) on the last two axes.

"Centred" means zero frequency sits at pixel ``(n_y // 2, n_x // 2)`` in both domains, the CXI
convention for diffraction patterns. Single precision stays single precision (scipy.fft keeps
complex64), and the transforms are threaded over all cores.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.fft as sfft

WORKERS = os.cpu_count() or 1
_AXES = (-2, -1)


def fft2c(field: np.ndarray) -> np.ndarray:
    """Centred unitary forward FFT. field: complex (..., n_y, n_x) -> same shape and dtype."""
    shifted = sfft.ifftshift(field, axes=_AXES)
    return sfft.fftshift(sfft.fft2(shifted, axes=_AXES, norm="ortho", workers=WORKERS), axes=_AXES)


def ifft2c(field: np.ndarray) -> np.ndarray:
    """Centred unitary inverse FFT, the adjoint (and inverse) of :func:`fft2c`."""
    shifted = sfft.ifftshift(field, axes=_AXES)
    return sfft.fftshift(sfft.ifft2(shifted, axes=_AXES, norm="ortho", workers=WORKERS), axes=_AXES)


def fft2(field: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Unshifted unitary FFT (zero frequency at [0, 0]) for convolution kernels.

    overwrite: the input may be reused for the output (in place for contiguous complex input): no
    new array, whose first touch of fresh pages costs as much as the FFT at simulator sizes."""
    return sfft.fft2(field, axes=_AXES, norm="ortho", workers=WORKERS, overwrite_x=overwrite)


def ifft2(field: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Unshifted unitary inverse FFT (overwrite: as :func:`fft2`)."""
    return sfft.ifft2(field, axes=_AXES, norm="ortho", workers=WORKERS, overwrite_x=overwrite)


def frequencies_per_m(shape: tuple[int, int], pixel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Unshifted spatial frequencies [1/m] broadcastable to ``shape``: (f_y (n_y, 1), f_x (1, n_x))."""
    f_y = sfft.fftfreq(shape[0], d=pixel_size_m)[:, None]
    f_x = sfft.fftfreq(shape[1], d=pixel_size_m)[None, :]
    return f_y, f_x


def centred_coordinates_m(shape: tuple[int, int], pixel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Real-space coordinates [m] with 0 at pixel ``n // 2``: (y (n_y, 1), x (1, n_x))."""
    y = (np.arange(shape[0]) - shape[0] // 2)[:, None] * pixel_size_m
    x = (np.arange(shape[1]) - shape[1] // 2)[None, :] * pixel_size_m
    return y, x


def fourier_shift(field: np.ndarray, shift_px: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Shift fields by subpixel amounts with a Fourier phase ramp (periodic boundary).

    field: complex64 (..., n_y, n_x); shift_px: float (..., 2) as (dy, dx), broadcast against the
    leading axes. A positive shift moves content towards larger indices. out: optional contiguous
    array of the broadcast output shape and field's dtype to write into (a reused buffer).
    """
    n_y, n_x = field.shape[-2:]
    shift_px = np.asarray(shift_px, dtype=np.float64)
    # separable: the outer product of two 1D ramps (n_y + n_x exponentials, not n_y n_x)
    ctype = np.result_type(field.dtype, np.complex64)
    ramp_y = np.exp(-2j * np.pi * shift_px[..., 0, None] * sfft.fftfreq(n_y)).astype(ctype)
    ramp_x = np.exp(-2j * np.pi * shift_px[..., 1, None] * sfft.fftfreq(n_x)).astype(ctype)
    spectrum = np.multiply(fft2(field), ramp_y[..., :, None], out=out)  # broadcasts to the output shape once
    spectrum *= ramp_x[..., None, :]  # in place: one pass fewer over the largest array
    return ifft2(spectrum, overwrite=True).astype(field.dtype, copy=False)
