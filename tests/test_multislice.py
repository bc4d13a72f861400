"""Multislice: one slice is the projection approximation; thin samples converge to it."""

import numpy as np

from cdibench import units
from cdibench.phantoms.base import Phantom
from cdibench.physics.multislice import multislice, slice_transmissions
from cdibench.physics.propagators import angular_spectrum_kernel

ENERGY_KEV = 2.0
PIXEL_M = 5e-9


def _blob_volume(n_z, n=64, seed=3):
    rng = np.random.default_rng(seed)
    from scipy.ndimage import gaussian_filter
    img = gaussian_filter(rng.random((n, n)), 2.0)
    img = (img - img.min()) / np.ptp(img)
    delta = np.repeat(img[None], n_z, axis=0).astype(np.float32) * 2e-2  # ~1 rad per 5 nm slice
    return delta, delta * 0.1


def _exit(delta, beta, dz_m, probe):
    lam = float(units.wavelength_m(ENERGY_KEV))
    kernel = angular_spectrum_kernel(delta.shape[-2:], PIXEL_M, lam, dz_m)
    return multislice(probe, slice_transmissions(delta, beta, dz_m, ENERGY_KEV), kernel)


def test_one_slice_is_projection_approximation():
    delta, beta = _blob_volume(1)
    probe = np.ones(delta.shape[-2:], np.complex64)
    phantom = Phantom(delta, beta, PIXEL_M, ENERGY_KEV)
    np.testing.assert_allclose(_exit(delta, beta, PIXEL_M, probe), phantom.transmission(), rtol=1e-6, atol=1e-6)


def test_transmission_sign_convention():
    # exp(+ikz) waves: phase = -k delta t, amplitude = exp(-k beta t)
    delta = np.full((1, 4, 4), 1e-5, np.float32)
    beta = np.full((1, 4, 4), 2e-6, np.float32)
    t = Phantom(delta, beta, 1e-6, 5.0).transmission()
    k = units.wavenumber_per_m(5.0)
    np.testing.assert_allclose(np.angle(t), -k * 1e-5 * 1e-6, rtol=1e-5)
    np.testing.assert_allclose(np.abs(t), np.exp(-k * 2e-6 * 1e-6), rtol=1e-6)


def test_many_thin_slices_converge_to_projection():
    """Same projected delta, beta; thickness -> 0 makes multislice -> projection, error ~ thickness."""
    n_z = 16
    base_delta, base_beta = _blob_volume(1)
    probe = np.ones(base_delta.shape[-2:], np.complex64)
    projection = Phantom(base_delta, base_beta, PIXEL_M, ENERGY_KEV).transmission()
    errors = []
    for thickness_m in (2e-7, 2e-8, 2e-9):
        dz = thickness_m / n_z
        scale = PIXEL_M / thickness_m  # keep sum(delta) dz fixed
        delta = np.repeat(base_delta * scale, n_z, axis=0)
        beta = np.repeat(base_beta * scale, n_z, axis=0)
        wave = _exit(delta, beta, dz, probe)
        errors.append(np.linalg.norm(wave - projection) / np.linalg.norm(projection))
    # 200 nm at 5 nm pixels and 2 keV is beyond the depth of focus (~50 nm): not a projection
    assert errors[0] > 1e-2
    # first order in the thickness (measured ratios ~9): each 10x thinner cuts the error > 5x
    assert errors[1] < errors[0] / 5 and errors[2] < errors[1] / 5
    assert errors[2] < 1e-3
