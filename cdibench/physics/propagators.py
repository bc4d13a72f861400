"""Free-space propagators, each a linear operator with its adjoint.

- Fraunhofer (far field): the centred unitary FFT; adjoint = inverse.
- Angular spectrum (near field, exact scalar diffraction): transfer function
  H(f) = exp(i 2 pi z (sqrt(1/lambda^2 - |f|^2) - 1/lambda)) with the common phase exp(i k z)
  removed; evanescent components (|f| > 1/lambda) are dropped, never amplified, so H is a
  contraction and its adjoint is multiplication by conj(H).
"""

from __future__ import annotations

import numpy as np

from cdibench.physics.fft import fft2, fft2c, frequencies_per_m, ifft2, ifft2c


def fraunhofer(field: np.ndarray) -> np.ndarray:
    """Far-field wave of exit waves. complex64 (..., n_y, n_x) -> complex64, zero frequency centred."""
    return fft2c(field)


def fraunhofer_adjoint(field: np.ndarray) -> np.ndarray:
    """Adjoint (= inverse) of :func:`fraunhofer`."""
    return ifft2c(field)


def angular_spectrum_kernel(shape: tuple[int, int], pixel_size_m: float, wavelength_m: float,
                            distance_m: float) -> np.ndarray:
    """Transfer function H, complex64 (n_y, n_x) in unshifted FFT order."""
    f_y, f_x = frequencies_per_m(shape, pixel_size_m)
    inv_lambda = 1.0 / wavelength_m
    arg = inv_lambda**2 - f_y**2 - f_x**2
    propagating = arg > 0
    phase = 2 * np.pi * distance_m * (np.sqrt(np.where(propagating, arg, 0.0)) - inv_lambda)
    return np.where(propagating, np.exp(1j * phase), 0).astype(np.complex64)


def propagate(field: np.ndarray, kernel: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Near-field propagation of complex64 (..., n_y, n_x) fields with an angular-spectrum kernel.

    overwrite: field may be reused for the result (the simulator's chunk buffer)."""
    spectrum = fft2(field, overwrite=overwrite)
    spectrum *= kernel  # in place: the spectrum is ours
    return ifft2(spectrum, overwrite=True)


def propagate_adjoint(field: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`propagate` (back-propagation without evanescent gain)."""
    return ifft2(fft2(field) * np.conj(kernel))
