"""Unitary 2D FFTs (``scipy.fft``, ``norm="ortho"``, all cores) on the last two axes.

Centred transforms put zero frequency at pixel ``(n_y // 2, n_x // 2)`` in both domains (the CXI
convention for diffraction patterns). The iterative solvers work with the *unshifted* transforms and
``ifftshift``-ed data instead: a modulus projection commutes with the shifts, because

    ifft2c(M_A(fft2c(x))) = ifft2(M_{A'}(fft2(x))),   A' = ifftshift(A),

for M_A(X) = A X / |X| (the real-space ``ifftshift`` inside fft2c only multiplies the spectrum by a
unit-modulus phase), which saves four array copies per iteration. complex64 stays complex64.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

_AXES = (-2, -1)


def fft2(field: np.ndarray) -> np.ndarray:
    """Unshifted unitary forward FFT. field: complex (..., n_y, n_x) -> same shape and dtype."""
    return sfft.fft2(field, axes=_AXES, norm="ortho", workers=-1)


def ifft2(field: np.ndarray) -> np.ndarray:
    """Unshifted unitary inverse FFT, the adjoint and inverse of :func:`fft2`."""
    return sfft.ifft2(field, axes=_AXES, norm="ortho", workers=-1)


def fft2c(field: np.ndarray) -> np.ndarray:
    """Centred unitary forward FFT. field: complex (..., n_y, n_x) -> same shape and dtype."""
    return sfft.fftshift(fft2(sfft.ifftshift(field, axes=_AXES)), axes=_AXES)


def ifft2c(field: np.ndarray) -> np.ndarray:
    """Centred unitary inverse FFT, the adjoint and inverse of :func:`fft2c`."""
    return sfft.fftshift(ifft2(sfft.ifftshift(field, axes=_AXES)), axes=_AXES)


def shift_ramps(shifts_px: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Separable Fourier phase ramps of the shift theorem, on the unshifted frequency grid.

    shifts_px: float (n, 2) as (dy, dx); shape: (n_y, n_x). Returns complex64 ramp_y (n, n_y) and
    ramp_x (n, n_x) with ``ifft2(fft2(f) * ramp_y[j, :, None] * ramp_x[j, None, :])`` equal to f
    shifted by ``shifts_px[j]`` (positive = towards larger indices, periodic boundary):
    ramp(k) = exp(-2 pi i k d / n).
    """
    shifts_px = np.asarray(shifts_px, dtype=np.float64)
    ramp_y = np.exp(-2j * np.pi * shifts_px[:, 0, None] * sfft.fftfreq(shape[0])[None, :])
    ramp_x = np.exp(-2j * np.pi * shifts_px[:, 1, None] * sfft.fftfreq(shape[1])[None, :])
    return ramp_y.astype(np.complex64), ramp_x.astype(np.complex64)

