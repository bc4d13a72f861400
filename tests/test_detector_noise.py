"""Detector (binning, mask, saturation), noise (Poisson, read noise, flux) and spectrum/coherence."""

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from cdibench.physics.coherence import CoherenceConfig, rescale_farfield, spectrum
from cdibench.physics.detector import (PIXEL_IS_DEAD, PIXEL_IS_SATURATED, PIXEL_IS_SHADOWED, DetectorConfig,
                                       apply_detector, bin_pixels, detector_mask)
from cdibench.physics.noise import NoiseConfig, apply_noise, flux_factors


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- detector ---------------------------------------------------------------------------------

def test_cxi_bits_are_distinct_powers_of_two():
    bits = [PIXEL_IS_SATURATED, PIXEL_IS_DEAD, PIXEL_IS_SHADOWED]
    assert [int(b) for b in bits] == [0x2, 0x8, 0x10]
    assert all(b.dtype == np.uint32 for b in bits)


def test_binning_sums_blocks_and_conserves_total():
    fine = _rng().random((2, 3, 12, 8)).astype(np.float32)
    coarse = bin_pixels(fine, 4)
    assert coarse.shape == (2, 3, 3, 2) and coarse.dtype == np.float32
    assert coarse.sum() == pytest.approx(fine.sum(), rel=1e-6)
    assert coarse[1, 2, 1, 0] == pytest.approx(fine[1, 2, 4:8, 0:4].sum(), rel=1e-6)
    np.testing.assert_array_equal(bin_pixels(fine, 1), fine)
    with pytest.raises(ValueError, match="intensities.shape"):
        bin_pixels(fine, 3)


def test_beamstop_and_dead_columns_masked_and_zeroed():
    config = DetectorConfig(beamstop_radius_px=3.0, dead_columns=(1,))
    mask = detector_mask(config, (32, 32))
    assert mask.dtype == np.uint32 and mask.shape == (32, 32)
    assert mask[16, 16] == PIXEL_IS_SHADOWED and mask[16, 19] == PIXEL_IS_SHADOWED
    assert mask[16, 20] == 0 and mask[19, 19] == 0  # r = 4 and r = 4.24 are outside
    assert np.count_nonzero(mask & PIXEL_IS_SHADOWED) == 29  # lattice points with r <= 3
    assert np.all(mask[:, 1] == PIXEL_IS_DEAD)
    data, out_mask = apply_detector(np.ones((5, 32, 32), np.float32), config, mask)
    assert out_mask is mask and data.dtype == np.float32
    assert np.all(data[:, mask != 0] == 0) and np.all(data[:, mask == 0] == 1)
    assert not np.any(detector_mask(DetectorConfig(), (8, 8)))
    with pytest.raises(ValueError, match="detector.dead_columns"):
        detector_mask(DetectorConfig(dead_columns=(8,)), (8, 8))


def test_saturation_clips_and_flags_per_frame():
    config = DetectorConfig(beamstop_radius_px=1.0, saturation_photons=100.0)
    mask = detector_mask(config, (16, 16))
    frames = np.full((3, 16, 16), 50, np.float32)
    frames[1, 2, 3] = 250
    frames[:, 8, 8] = 1e6  # under the beamstop: zeroed, not flagged saturated
    data, full_mask = apply_detector(frames, config, mask)
    assert full_mask.shape == frames.shape and full_mask.dtype == np.uint32
    assert data[1, 2, 3] == 100 and full_mask[1, 2, 3] == PIXEL_IS_SATURATED
    assert full_mask[0, 2, 3] == 0 and data[0, 2, 3] == 50
    assert np.all(data[:, 8, 8] == 0) and np.all(full_mask[:, 8, 8] == PIXEL_IS_SHADOWED)
    assert np.count_nonzero(full_mask & PIXEL_IS_SATURATED) == 1


@pytest.mark.parametrize("kwargs, field", [
    ({"binning": 0}, "detector.binning"), ({"beamstop_radius_px": -1.0}, "detector.beamstop_radius_px"),
    ({"saturation_photons": 0.0}, "detector.saturation_photons"),
    ({"dead_columns": (-1,)}, "detector.dead_columns"),
])
def test_detector_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        DetectorConfig(**kwargs)


# --- noise ------------------------------------------------------------------------------------

def test_poisson_mean_and_variance_at_the_photon_budget():
    config = NoiseConfig(photons_per_frame=1e6)
    shape = (4, 128, 128)
    expected = np.full(shape, config.photons_per_frame / (128 * 128), np.float32)  # ~61 photons/pixel
    counts = apply_noise(expected, config, _rng(4))
    assert counts.dtype == np.float32 and counts.shape == shape
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    # N = 65536 samples: relative standard errors 1/sqrt(61 N) = 0.05% (mean), sqrt(2 / N) = 0.6%
    # (variance), so a 3% tolerance is > 5 sigma.
    assert counts.mean() == pytest.approx(expected.mean(), rel=0.03)
    assert counts.var() == pytest.approx(expected.mean(), rel=0.03)
    assert counts.sum(axis=(1, 2)) == pytest.approx(np.full(4, 1e6), rel=0.03)
    np.testing.assert_array_equal(counts, apply_noise(expected, config, _rng(4)))


def test_read_noise_std_and_thresholding():
    expected = np.full((2, 128, 128), 100.0, np.float32)
    counts = apply_noise(expected, NoiseConfig(poisson=False, read_noise_photons=3.0), _rng(5))
    # rounding adds a uniform error of variance 1/12: std sqrt(9 + 1/12) = 3.014; N = 32768
    # gives a relative standard error of 0.4% on the std.
    assert counts.std() == pytest.approx(np.sqrt(9 + 1 / 12), rel=0.03)
    assert counts.mean() == pytest.approx(100.0, rel=1e-3)
    dark = apply_noise(np.zeros((1, 64, 64), np.float32), NoiseConfig(poisson=False, read_noise_photons=3.0),
                       _rng(6))
    assert dark.min() == 0 and np.all(dark == np.round(dark))


def test_noise_free_passes_through_and_bad_input_raises():
    expected = _rng().random((2, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(apply_noise(expected, NoiseConfig(poisson=False), _rng()), expected)
    with pytest.raises(ValueError, match="intensities"):
        apply_noise(-expected, NoiseConfig(), _rng())


def test_flux_factors_mean_and_rms():
    factors = flux_factors(100_000, 0.1, _rng(7))
    assert factors.dtype == np.float32 and factors.shape == (100_000,) and factors.min() > 0
    # standard errors: 0.1 / sqrt(1e5) = 3e-4 on the mean, ~0.3% on the rms
    assert factors.mean() == pytest.approx(1.0, abs=2e-3)
    assert factors.std() == pytest.approx(0.1, rel=0.03)
    np.testing.assert_array_equal(flux_factors(5, 0.0, _rng()), np.ones(5, np.float32))


def test_background_is_counted_with_the_signal():
    """Poisson(signal + b): on a dark detector the counts' mean and variance are both b (standard
    error of each ~ b / sqrt(n) = 0.3 % here); without one, the default, nothing is added."""
    dark = np.zeros((200, 32, 32), np.float32)
    counts = apply_noise(dark, NoiseConfig(background_photons=5.0), _rng(3))
    assert counts.mean() == pytest.approx(5.0, rel=0.01) and counts.var() == pytest.approx(5.0, rel=0.02)
    signal = _rng().random((2, 8, 8)).astype(np.float32) * 20
    assert NoiseConfig().background_photons is None
    np.testing.assert_array_equal(apply_noise(signal, NoiseConfig(poisson=False, background_photons=2.0), _rng()),
                                  signal + np.float32(2.0))


def test_simulator_stores_the_true_flux_and_keeps_data_without_errors(tmp_path):
    """The truth's flux factors are the ones the frames were scaled by (noise-free: exact ratio to
    the fluctuation-free data); they round-trip through CXI; without fluctuation the truth has none."""
    import dataclasses
    from pathlib import Path

    from cdibench.data.cxi import load_cxi, save_cxi
    from cdibench.data.spec import load_spec
    from cdibench.simulation import simulate

    spec = load_spec(Path(__file__).resolve().parent.parent / "datasets" / "quick-ptycho-far.toml")
    quiet = dataclasses.replace(spec, noise=NoiseConfig(photons_per_frame=1e6, poisson=False))
    plain = simulate(quiet, progress=False)
    assert plain.truth.flux_scale is None
    fluct = simulate(dataclasses.replace(quiet, noise=dataclasses.replace(quiet.noise, flux_fluctuation_rms=0.2)),
                     progress=False)
    flux = fluct.truth.flux_scale
    assert flux.shape == (1, 36) and flux.dtype == np.float64
    ratio = fluct.intensities.sum(axis=(-2, -1)) / plain.intensities.sum(axis=(-2, -1))
    np.testing.assert_allclose(ratio, flux, rtol=1e-5)
    loaded = load_cxi(save_cxi(fluct, tmp_path / "f.cxi"))
    np.testing.assert_array_equal(loaded.truth.flux_scale, flux)
    assert load_cxi(save_cxi(plain, tmp_path / "p.cxi")).truth.flux_scale is None


@pytest.mark.parametrize("kwargs, field", [
    ({"photons_per_frame": 0.0}, "noise.photons_per_frame"),
    ({"read_noise_photons": -1.0}, "noise.read_noise_photons"),
    ({"flux_fluctuation_rms": float("inf")}, "noise.flux_fluctuation_rms"), ({"poisson": 1}, "noise.poisson"),
    ({"background_photons": -0.5}, "noise.background_photons"),
    ({"background_photons": 0.0}, "noise.background_photons"),
])
def test_noise_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        NoiseConfig(**kwargs)


# --- coherence --------------------------------------------------------------------------------

def test_spectrum_weights_symmetric_with_configured_fwhm():
    energies, weights = spectrum(8.0, CoherenceConfig(bandwidth_rel_fwhm=0.01, n_energies=41))
    assert energies.shape == weights.shape == (41,)
    assert weights.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(weights, weights[::-1], rtol=1e-12)
    np.testing.assert_allclose(energies - 8.0, -(energies - 8.0)[::-1], atol=1e-12)
    assert energies[-1] - 8.0 == pytest.approx(1.5 * 0.08)
    std_kev = np.sqrt((weights * (energies - 8.0) ** 2).sum())
    # truncation at +-3.53 sigma and 41-node sampling shift the std by < 0.5%
    assert std_kev * 2 * np.sqrt(2 * np.log(2)) == pytest.approx(0.08, rel=0.02)


def test_spectrum_single_line():
    energies, weights = spectrum(8.0, CoherenceConfig())
    np.testing.assert_array_equal(energies, [8.0])
    np.testing.assert_array_equal(weights, [1.0])


def test_rescale_identity_and_photon_conservation():
    patterns = _rng().random((2, 3, 32, 30)).astype(np.float32)
    np.testing.assert_array_equal(rescale_farfield(patterns, 1.0), patterns)
    rescaled = rescale_farfield(patterns, 0.97)
    assert rescaled.shape == patterns.shape and rescaled.dtype == np.float32
    np.testing.assert_allclose(rescaled.sum(axis=(-2, -1)), patterns.sum(axis=(-2, -1)), rtol=1e-5)


@pytest.mark.parametrize("scale", [0.93, 1.08])
def test_rescale_matches_map_coordinates(scale):
    patterns = _rng(8).random((2, 20, 17)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(20), np.arange(17), indexing="ij")
    coordinates = np.stack([10 + (rows - 10) * scale, 8 + (cols - 8) * scale])
    reference = np.stack([map_coordinates(p.astype(np.float64), coordinates, order=1, mode="grid-constant")
                          for p in patterns])
    reference *= (patterns.sum(axis=(1, 2)) / reference.sum(axis=(1, 2)))[:, None, None]
    np.testing.assert_allclose(rescale_farfield(patterns, scale), reference, rtol=1e-5, atol=1e-6)


def test_rescale_longer_wavelength_expands_about_the_centre():
    pattern = np.zeros((1, 33, 32), np.float32)
    pattern[0, 16 + 4, 16] = 1.0  # 4 px from the centre pixel (16, 16)
    rescaled = rescale_farfield(pattern, 0.5)  # lambda = 2 lambda0: scattering angles double
    assert np.unravel_index(rescaled.argmax(), rescaled.shape) == (0, 16 + 8, 16)
    assert rescaled.sum() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("kwargs, field", [
    ({"bandwidth_rel_fwhm": -0.1}, "coherence.bandwidth_rel_fwhm"),
    ({"bandwidth_rel_fwhm": 0.1, "n_energies": 5}, "coherence.bandwidth_rel_fwhm"),
    ({"bandwidth_rel_fwhm": 0.01, "n_energies": 4}, "coherence.n_energies"),
    ({"bandwidth_rel_fwhm": 0.01, "n_energies": 1}, "coherence.n_energies"),
    ({"n_energies": 3}, "coherence.n_energies"),
])
def test_coherence_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        CoherenceConfig(**kwargs)
