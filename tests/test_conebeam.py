"""Cone-beam (magnified) near field: [geometry] focus_to_sample_m.

The simulator propagates the plane-wave equivalent of a cone beam (Fresnel scaling theorem:
magnification M = (z1 + z2) / z1, effective distance z2 / M, effective pixel = detector pixel / M).
Here it is checked against a direct simulation that shares no code with it: the spherical wave
from the focus on a grid 8x finer than the effective pixel, times the object, carried z2 to the
detector pixels by the Fresnel diffraction integral evaluated as a sum (numpy only).
The geometry is that of the measured P25 dataset (../shared/data/real/README.md): z1 = 3.65 mm,
z2 = 1.12 m, 55 um pixels, 12.66 keV.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from cdibench import units
from cdibench.data import cxi, cxi_fields
from cdibench.data.spec import spec_from_toml
from cdibench.simulation import simulate

Z1_M, Z2_M, PIXEL_M, ENERGY_KEV, N = 3.65e-3, 1.12, 55e-6, 12.66, 64
CONE = f"""
name = "cone"
kind = "ptycho-near"
[geometry]
energy_kev = {ENERGY_KEV}
distance_m = {Z2_M}
focus_to_sample_m = {Z1_M}
detector_pixel_m = {PIXEL_M}
pattern_px = {N}
detection = "near"
[phantom]
type = "blobs"
shape_px = [1, 80, 80]
material = "gold"
thickness_m = 150e-9
blob_size_px = 3.0
[probe]
type = "gaussian"
fwhm_px = 10.0
[scan]
type = "raster"
shape = [1, 2]
step_px = 8.0
[noise]
photons_per_frame = 1e6
poisson = false
"""


@pytest.fixture(scope="module")
def cone_dataset():
    return simulate(spec_from_toml(CONE), progress=False)


def fourier_interpolate(field: np.ndarray, s: int) -> np.ndarray:
    """Periodic band-limited interpolation of (n, n) samples at n = m / s, m = 0 .. s n - 1, with
    the DFT's bins (-n/2 .. n/2 - 1): the function a DFT propagator acts on."""
    n = field.shape[0]
    spectrum = np.fft.fft2(field)
    padded = np.zeros((s * n, s * n), complex)
    h = n // 2
    for rows_in, rows_out in ((slice(0, h), slice(0, h)), (slice(h, n), slice(s * n - h, s * n))):
        for cols_in, cols_out in ((slice(0, h), slice(0, h)), (slice(h, n), slice(s * n - h, s * n))):
            padded[rows_out, cols_out] = spectrum[rows_in, cols_in]
    return np.fft.ifft2(padded) * s**2


def direct_cone_beam(exit_wave: np.ndarray, pixel_m: float, s: int, z1_m: float = Z1_M) -> np.ndarray:
    """Photons per detector pixel, float64 (n, n), of the exit wave (n, n) [sqrt(photons) per
    effective pixel, optical axis at pixel n // 2] lit by the spherical wave from a focus z1_m
    before it.

    On the grid s times finer than the effective pixel the field is the interpolated exit wave
    times exp(i k r^2 / (2 z1)); the Fresnel integral U(X) = (1 / (i lambda z2)) sum u(x)
    exp(i k |X - x|^2 / (2 z2)) dx^2 is summed directly at the detector pixel centres
    X = (j - n // 2) p (separable: two matrix products). The sum is exact for an integrand band
    below 1 / dx: its local frequency |x - X / M| / (lambda z_eff) stays under 5.2 / pixel_m here."""
    n = exit_wave.shape[0]
    lam = float(units.wavelength_m(ENERGY_KEV))
    k = 2 * np.pi / lam
    x = (np.arange(s * n) / s - n // 2) * pixel_m
    u = fourier_interpolate(exit_wave, s) / pixel_m  # amplitude density, sqrt(photons) / m
    u = u * np.exp(1j * k * (x[:, None] ** 2 + x[None, :] ** 2) / (2 * z1_m))
    big_x = (np.arange(n) - n // 2) * PIXEL_M
    kernel = np.exp(1j * k * (big_x[:, None] - x[None, :]) ** 2 / (2 * Z2_M))  # (n, s n)
    field = kernel @ u @ kernel.T * (pixel_m / s) ** 2 / (1j * lam * Z2_M)
    return np.abs(field) ** 2 * PIXEL_M**2


def test_effective_geometry_of_the_p25_setup(cone_dataset):
    """Dataset.geometry carries the effective distance and pixel (the README's ~308, 178.7 nm and
    3.64 mm) and keeps the physical z1, z2 and detector pixel."""
    geo = cone_dataset.geometry
    m = (Z1_M + Z2_M) / Z1_M
    assert geo.magnification == pytest.approx(307.85, abs=0.01)
    assert geo.object_pixel_m == pytest.approx(PIXEL_M / m, rel=1e-12)
    assert geo.object_pixel_m == pytest.approx(178.66e-9, abs=0.01e-9)
    assert geo.distance_m == pytest.approx(Z2_M / m, rel=1e-12)
    assert geo.distance_m == pytest.approx(3.638e-3, abs=1e-6)
    assert (geo.focus_to_sample_m, geo.sample_to_detector_m, geo.detector_pixel_m) == (Z1_M, Z2_M, PIXEL_M)
    assert cone_dataset.truth.voxel_size_m == geo.object_pixel_m


def test_simulator_equals_the_direct_spherical_wave(cone_dataset):
    """The simulator's scaled plane-wave model against the direct cone-beam simulation, absolute
    photon counts (so photons_per_frame is what the detector counts): relative L2 error <= 1e-3,
    the issue's bar. Measured: 1.7e-5 (1.2e-5 on a 16x finer grid; the simulator agrees with a
    float64 DFT Fresnel propagator to 1.6e-7, so the rest is the plane-wave model's periodic window
    against the direct integral's open aperture, dark at the window's edges under the Gaussian
    probe). A focus 1 % farther (M and z2 / M both off) must miss by far: 1.4e-2 measured."""
    ds = cone_dataset
    truth = ds.truth
    errors = []
    for k, (row, col) in enumerate(truth.positions_px[0].astype(int)):
        assert np.array_equal(truth.positions_px[0, k], [row, col])  # whole pixels: no sub-pixel shift
        exit_wave = truth.probe[0].astype(complex) * truth.object[row:row + N, col:col + N]
        reference = direct_cone_beam(exit_wave, ds.geometry.object_pixel_m, s=8)
        model = ds.intensities[0, k].astype(float)
        errors.append(np.linalg.norm(model - reference) / np.linalg.norm(reference))
    assert max(errors) <= 1e-3, errors
    wrong = direct_cone_beam(exit_wave, ds.geometry.object_pixel_m, s=8, z1_m=1.01 * Z1_M)
    assert np.linalg.norm(model - wrong) / np.linalg.norm(wrong) > 1e-2


def test_cxi_round_trip_stores_both_distances(cone_dataset, tmp_path):
    path = cxi.save_cxi(cone_dataset, tmp_path / "cone.cxi")
    with h5py.File(path, "r") as f:
        assert f[f"{cxi_fields.DETECTOR}/distance"][()] == Z2_M  # CXI: sample to detector, physical
        assert f[f"{cxi_fields.CDIBENCH}/focus_to_sample_m"][()] == Z1_M
        assert f[f"{cxi_fields.DETECTOR}/x_pixel_size"][()] == PIXEL_M
    back = cxi.load_cxi(path)
    assert back.geometry == cone_dataset.geometry  # effective distance and pixel derived on load
    again = cxi.save_cxi(back, tmp_path / "again.cxi")
    with h5py.File(path, "r") as f, h5py.File(again, "r") as g:
        for name in (f"{cxi_fields.DETECTOR}/distance", f"{cxi_fields.CDIBENCH}/focus_to_sample_m",
                     f"{cxi_fields.CDIBENCH}/object_pixel_m", f"{cxi_fields.DETECTOR}/x_pixel_size"):
            assert f[name][()] == g[name][()], name


@pytest.mark.parametrize("value", [0.0, -1e-3, np.nan])
def test_cxi_bad_focus_distance_names_the_field(cone_dataset, tmp_path, value):
    path = cxi.save_cxi(cone_dataset, tmp_path / "cone.cxi")
    with h5py.File(path, "r+") as f:
        f[f"{cxi_fields.CDIBENCH}/focus_to_sample_m"][()] = value
    with pytest.raises(ValueError, match="entry_1/cdibench/focus_to_sample_m"):
        cxi.load_cxi(path)


def test_cxi_object_pixel_must_be_the_effective_one(cone_dataset, tmp_path):
    path = cxi.save_cxi(cone_dataset, tmp_path / "cone.cxi")
    with h5py.File(path, "r+") as f:
        f[f"{cxi_fields.CDIBENCH}/object_pixel_m"][()] = PIXEL_M  # the physical pixel, not pixel / M
    with pytest.raises(ValueError, match="entry_1/cdibench/object_pixel_m.*effective"):
        cxi.load_cxi(path)


def test_ad_model_reproduces_the_cone_beam_data(cone_dataset):
    """The AD thin model reads the effective distance and pixel from Dataset.geometry and needs no
    cone-beam code: at the truth it reproduces the simulator (complex64 both: measured 2e-7)."""
    tf = pytest.importorskip("tensorflow")
    from ad_helpers import model_at_truth

    truth = cone_dataset.truth
    ds = dataclasses.replace(cone_dataset, positions_px=truth.positions_px, probe_guess=truth.probe)
    predicted = model_at_truth(ds).predict(0, tf.range(ds.n_positions)).numpy()
    assert np.linalg.norm(predicted - ds.intensities[0]) / np.linalg.norm(ds.intensities[0]) <= 1e-5
