"""Linear operators: one generic adjoint (dot-product) test; unitary FFT; Parseval."""

import numpy as np
import pytest

from cdibench import units
from cdibench.physics.fft import fft2c, fourier_shift, ifft2c
from cdibench.physics.propagators import (angular_spectrum_kernel, fraunhofer, fraunhofer_adjoint,
                                          propagate, propagate_adjoint)

SHAPE = (3, 48, 64)
RNG_SEED = 7


def _random(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _kernel(distance_m):
    return angular_spectrum_kernel(SHAPE[-2:], 10e-9, float(units.wavelength_m(8.0)), distance_m)


SHIFT = np.array([[0.3, -1.7], [2.25, 0.5], [-0.4, 0.0]])
OPERATORS = {
    "fraunhofer": (fraunhofer, fraunhofer_adjoint),
    "angular-spectrum 5 um": (lambda x: propagate(x, _kernel(5e-6)), lambda y: propagate_adjoint(y, _kernel(5e-6))),
    # lambda/dx > 1 here: evanescent components are cut, the operator is no longer unitary
    "angular-spectrum evanescent": (
        lambda x: propagate(x, angular_spectrum_kernel(SHAPE[-2:], 0.5e-9, float(units.wavelength_m(0.954)), 20e-9)),
        lambda y: propagate_adjoint(y, angular_spectrum_kernel(SHAPE[-2:], 0.5e-9, float(units.wavelength_m(0.954)), 20e-9))),
    "fourier-shift": (lambda x: fourier_shift(x, SHIFT), lambda y: fourier_shift(y, -SHIFT)),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_adjoint(name):
    forward, adjoint = OPERATORS[name]
    rng = np.random.default_rng(RNG_SEED)
    x, y = _random(rng, SHAPE), _random(rng, SHAPE)
    lhs = np.vdot(forward(x), y)
    rhs = np.vdot(x, adjoint(y))
    assert forward(x).dtype == np.complex64
    # complex64 accumulations over ~1e4 terms: relative error ~1e-6; 1e-4 is the bar
    assert abs(lhs - rhs) <= 1e-4 * abs(lhs)


def test_fft_unitary_and_inverse():
    rng = np.random.default_rng(1)
    x = _random(rng, SHAPE)
    np.testing.assert_allclose(ifft2c(fft2c(x)), x, atol=1e-5)
    # Parseval: sum |x|^2 = sum |F x|^2
    np.testing.assert_allclose(np.sum(np.abs(fft2c(x)) ** 2), np.sum(np.abs(x) ** 2), rtol=1e-5)


def test_fft_is_centred():
    x = np.ones((1, 16, 16), np.complex64)
    far = fft2c(x)
    assert np.argmax(np.abs(far[0])) == 8 * 16 + 8
    np.testing.assert_allclose(abs(far[0, 8, 8]), 16.0, rtol=1e-6)


def test_delta_at_centre_gives_flat_phase():
    x = np.zeros((1, 16, 16), np.complex64)
    x[0, 8, 8] = 1
    np.testing.assert_allclose(fft2c(x), np.full_like(x, 1 / 16), atol=1e-7)


def test_propagation_without_evanescent_is_unitary():
    rng = np.random.default_rng(2)
    x = _random(rng, SHAPE)
    y = propagate(x, _kernel(3e-6))
    np.testing.assert_allclose(np.sum(np.abs(y) ** 2), np.sum(np.abs(x) ** 2), rtol=1e-5)
    np.testing.assert_allclose(propagate_adjoint(y, _kernel(3e-6)), x, atol=1e-4)
