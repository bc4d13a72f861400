"""Near-field (Fresnel-regime) free-space propagation by the angular spectrum method.

    U(z + d) = F^-1[ F[U] H_d ],   H_d(k) = exp(i d k_z),   k_z = sqrt(k^2 - k_x^2 - k_y^2)

on the propagating components (k_x^2 + k_y^2 < k^2), H_d = 0 on the evanescent ones (never
amplified, also for d < 0), k = 2 pi / wavelength, k_x = 2 pi fftfreq(n_x, pixel) (Goodman,
*Introduction to Fourier Optics*, 3rd ed., sec. 3.10). H_d is unitary on the propagating band and
composes, H_a H_b = H_(a+b). A cone beam (a focus z1 before the sample, the detector z2 behind it)
is the same propagation over its effective distance z2 / M with the effective pixel detector pixel
/ M (the Fresnel scaling theorem, M = (z1 + z2) / z1): the caller passes those numbers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from baselines import _checks as checks


def _number(name: str, value, positive: bool) -> float:
    """A finite real number (> 0 when ``positive``, else any sign) as float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or (positive and value <= 0):
        checks.fail(name, repr(value), "a finite real number" + (" > 0" if positive else ""))
    return float(value)


@dataclass(frozen=True)
class NearField:
    """Near-field detection: the detector ``distance_m`` behind the exit plane (>= 0; a cone beam's
    effective one), the object-plane ``pixel_size_m`` (> 0; a cone beam's effective one) and the
    ``wavelength_m`` (> 0)."""

    distance_m: float
    pixel_size_m: float
    wavelength_m: float

    def __post_init__(self):
        if _number("near_field.distance_m", self.distance_m, positive=False) < 0:
            checks.fail("near_field.distance_m", repr(self.distance_m), "a distance >= 0")
        _number("near_field.pixel_size_m", self.pixel_size_m, positive=True)
        _number("near_field.wavelength_m", self.wavelength_m, positive=True)


def transfer_function(shape: tuple[int, int], distance_m: float, wavelength_m: float,
                      pixel_size_m: float) -> np.ndarray:
    """H_d of the module docstring on the unshifted FFT grid: complex128 (n_y, n_x)."""
    k = 2 * np.pi / wavelength_m
    k_y = 2 * np.pi * sfft.fftfreq(shape[0], pixel_size_m)
    k_x = 2 * np.pi * sfft.fftfreq(shape[1], pixel_size_m)
    kz2 = k ** 2 - k_y[:, None] ** 2 - k_x[None, :] ** 2
    return np.where(kz2 > 0, np.exp(1j * distance_m * np.sqrt(np.maximum(kz2, 0))), 0)


def detector_kernel(near_field: NearField, shape: tuple[int, int]) -> np.ndarray:
    """The exit plane -> detector transfer function of ``near_field``, complex64 (n_y, n_x)."""
    h = transfer_function(shape, near_field.distance_m, near_field.wavelength_m, near_field.pixel_size_m)
    return h.astype(np.complex64)
