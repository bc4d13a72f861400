"""The simulator's fast paths (reused buffers, in-place FFTs, window-by-window multiplies, crop
before squaring, float32 transmissions, threaded plane rotation, rotation ahead of use) compute
what the plain expressions compute."""

import numpy as np
import pytest

from cdibench.physics import tomography
from cdibench.physics.fft import fft2, fourier_shift
from cdibench.physics.forward import (
    _centre_crop,
    _centre_crop_unshifted,
    farfield_intensity,
    nearfield_intensity,
)
from cdibench.physics.multislice import multislice, slice_transmissions
from cdibench.physics.propagators import angular_spectrum_kernel
from cdibench.physics.ptychography import extract_patches, shifted_probes
from cdibench.simulation.transmission import _rotated, _rotations

RNG = np.random.default_rng(3)


def _complex(shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("big, small", [((16, 16), (8, 8)), ((15, 17), (7, 9)), ((12, 12), (12, 12)), ((9, 10), (1, 3))])
def test_crop_from_unshifted_order_is_crop_of_fftshift(big, small):
    arr = _complex((2, 3) + big)
    expected = _centre_crop(np.fft.fftshift(arr, axes=(-2, -1)), *small)
    np.testing.assert_array_equal(_centre_crop_unshifted(arr, *small), expected)


def test_extract_patches_are_the_windows():
    obj = _complex((3, 40, 50))
    corners = np.array([[0, 0], [5, 17], [24, 34]])
    patches = extract_patches(obj, corners, (16, 16))
    assert patches.shape == (3, 3, 16, 16)
    for patch, (r, c) in zip(patches, corners):
        np.testing.assert_array_equal(patch, obj[:, r:r + 16, c:c + 16])


def test_shifted_probes_into_a_buffer_equal_the_allocating_path():
    probe, fractions = _complex((2, 32, 32)), RNG.random((5, 2))
    buffer = np.empty((5, 2, 32, 32), np.complex64)
    out = shifted_probes(probe, fractions, out=buffer)
    assert np.shares_memory(out, buffer)
    np.testing.assert_allclose(out, fourier_shift(probe[None], fractions[:, None, :]), atol=1e-6)
    still = shifted_probes(probe, np.zeros((5, 2)), out=buffer)
    np.testing.assert_array_equal(still, np.broadcast_to(probe, (5, 2, 32, 32)))


def test_multislice_through_windows_equals_multislice_through_gathered_patches():
    volume = _complex((4, 48, 48))
    corners = np.array([[0, 3], [10, 16], [16, 16]])
    field = _complex((3, 2, 32, 32))
    kernel = angular_spectrum_kernel((32, 32), 10e-9, 1e-9, 30e-9)
    gathered = np.moveaxis(extract_patches(volume, corners, (32, 32))[:, :, None], 1, 0)
    expected = multislice(field, gathered, kernel, repeats=2)
    kept = field.copy()
    np.testing.assert_allclose(multislice(field, volume, kernel, repeats=2, corners=corners), expected, atol=1e-5)
    np.testing.assert_array_equal(field, kept)  # without overwrite the input is untouched
    np.testing.assert_allclose(multislice(field, volume, kernel, repeats=2, overwrite=True, corners=corners),
                               expected, atol=1e-5)


def test_multislice_broadcasts_the_incident_wave_against_the_slices():
    probe, slices = _complex((32, 32)), _complex((3, 4, 1, 32, 32))
    kernel = angular_spectrum_kernel((32, 32), 10e-9, 1e-9, 30e-9)
    wave = multislice(probe, slices, kernel)
    assert wave.shape == (4, 1, 32, 32) and wave.dtype == np.complex64
    np.testing.assert_allclose(wave[2], multislice(probe, slices[:, 2], kernel), atol=1e-6)


def test_overwriting_detectors_give_the_same_intensities():
    waves = _complex((4, 2, 64, 64))
    for binning in (1, 2):
        expected = farfield_intensity(waves, 2, binning)
        np.testing.assert_array_equal(farfield_intensity(waves.copy(), 2, binning, overwrite=True), expected)
    direct = np.abs(np.fft.fftshift(fft2(waves), axes=(-2, -1))) ** 2
    np.testing.assert_allclose(farfield_intensity(waves), direct.sum(axis=1), rtol=1e-4, atol=1e-4)
    kernel = angular_spectrum_kernel((64, 64), 10e-9, 1e-9, 1e-6)
    np.testing.assert_array_equal(nearfield_intensity(waves.copy(), kernel, overwrite=True),
                                  nearfield_intensity(waves, kernel))


def test_slice_transmissions_equal_the_complex_exponential():
    delta, beta = RNG.random((2, 20, 20)) * 1e-4, RNG.random((2, 20, 20)) * 1e-5
    k_dz = 2 * np.pi / 1e-9 * 5e-9
    expected = np.exp(-1j * k_dz * (delta - 1j * beta))
    t = slice_transmissions(delta, beta, 5e-9, 1.2398419843320026)
    assert t.dtype == np.complex64
    np.testing.assert_allclose(t, expected, atol=2e-6)


@pytest.mark.parametrize("workers", [1, 3])
def test_threaded_rotation_equals_one_thread(monkeypatch, workers):
    volume = RNG.standard_normal((12, 5, 14)).astype(np.float32)
    volume[:, 2] = 0  # an empty plane is skipped
    expected = tomography.rotate_volume(volume, 0.7, coefficients=tomography.spline_coefficients(volume))
    monkeypatch.setattr(tomography, "WORKERS", workers)
    coefficients = tomography.spline_coefficients(volume)
    np.testing.assert_array_equal(tomography.rotate_volume(volume, 0.7, coefficients=coefficients), expected)
    assert not expected[:, 2].any() and expected.any()


def test_rotations_ahead_come_in_angle_order_and_raise():
    from cdibench.phantoms import Phantom
    volume = RNG.standard_normal((8, 3, 8)).astype(np.float32)
    phantom = Phantom(volume, volume / 10, 1e-8, 8.0, "random")
    angles = np.array([0.0, 0.3, 1.1])
    coefficients = (tomography.spline_coefficients(volume), tomography.spline_coefficients(volume / 10))
    got = list(_rotations(phantom, angles, 3, coefficients))
    assert got[0] is phantom
    for angle, rotated in zip(angles[1:], got[1:]):
        np.testing.assert_array_equal(rotated.delta, _rotated(phantom, angle, 3, coefficients).delta)
    with pytest.raises(ValueError):
        list(_rotations(phantom, angles, 3, (coefficients[0][:, :, :2], coefficients[1])))
