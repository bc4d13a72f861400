"""Near-field propagation against the analytic Gaussian beam."""

import numpy as np
import pytest

from cdibench import units
from cdibench.physics.fft import centred_coordinates_m
from cdibench.physics.propagators import angular_spectrum_kernel, propagate


def _second_moment_width(intensity, coords):
    y, x = coords
    total = intensity.sum()
    var_x = (intensity * x**2).sum() / total
    var_y = (intensity * y**2).sum() / total
    # |E|^2 ~ exp(-2 r^2 / w^2) has <x^2> = w^2 / 4
    return 2 * np.sqrt(0.5 * (var_x + var_y))


@pytest.mark.parametrize("z_over_zr", [0.5, 1.0, 2.0])
def test_gaussian_beam_width(z_over_zr):
    energy_kev, w0_m, pixel_m, n = 8.0, 1e-6, 40e-9, 512
    lam = float(units.wavelength_m(energy_kev))
    coords = centred_coordinates_m((n, n), pixel_m)
    field = np.exp(-(coords[0] ** 2 + coords[1] ** 2) / w0_m**2).astype(np.complex64)
    z_r = np.pi * w0_m**2 / lam
    kernel = angular_spectrum_kernel((n, n), pixel_m, lam, z_over_zr * z_r)
    width = _second_moment_width(np.abs(propagate(field, kernel)) ** 2, coords)
    expected = w0_m * np.sqrt(1 + z_over_zr**2)
    assert abs(width / expected - 1) <= 0.01


def test_back_propagation_returns_the_beam():
    energy_kev, pixel_m, n = 8.0, 40e-9, 256
    lam = float(units.wavelength_m(energy_kev))
    coords = centred_coordinates_m((n, n), pixel_m)
    field = np.exp(-(coords[0] ** 2 + coords[1] ** 2) / (1e-6) ** 2).astype(np.complex64)
    there = propagate(field, angular_spectrum_kernel((n, n), pixel_m, lam, 0.01))
    back = propagate(there, angular_spectrum_kernel((n, n), pixel_m, lam, -0.01))
    np.testing.assert_allclose(back, field, atol=1e-4)
