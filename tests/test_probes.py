"""Probe models: widths, Airy zero, defocus, mode orthogonality and weights, guesses, checks."""

import numpy as np
import pytest

from cdibench.config import from_mapping
from cdibench.physics.probes import (ProbeConfig, check_probe_fits, make_probe, mode_weights,
                                     probe_guess, support_extent_px)

PIXEL_M = 10e-9
ENERGY_KEV = 8.0


def _intensity(probe):
    return (np.abs(probe.astype(np.complex128)) ** 2).sum(axis=0)


def _radial_profile(image, bin_px=0.25):
    """(mean radius, mean value) per radial bin about the centre pixel n // 2, empty bins dropped."""
    y, x = np.indices(image.shape)
    r = np.hypot(y - image.shape[0] // 2, x - image.shape[1] // 2).ravel()
    bins = np.floor(r / bin_px).astype(int)
    counts = np.bincount(bins)
    filled = counts > 0
    return (np.bincount(bins, r)[filled] / counts[filled],
            np.bincount(bins, image.ravel())[filled] / counts[filled])


def _half_max_width(profile):
    """FWHM [px] of a 1D peak by linear interpolation of the half-maximum crossings."""
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    left, right = above[0], above[-1]
    x_left = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    x_right = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return x_right - x_left


def _rms_radius(intensity):
    y, x = np.indices(intensity.shape)
    r2 = (y - intensity.shape[0] // 2) ** 2 + (x - intensity.shape[1] // 2) ** 2
    return np.sqrt((intensity * r2).sum() / intensity.sum())


def test_gaussian_fwhm_within_2_percent():
    probe = make_probe(ProbeConfig(type="gaussian", fwhm_px=16.0), (128, 128), PIXEL_M, ENERGY_KEV)
    intensity = _intensity(probe)
    assert np.unravel_index(intensity.argmax(), intensity.shape) == (64, 64)
    assert _half_max_width(intensity[64]) == pytest.approx(16.0, rel=0.02)
    assert _half_max_width(intensity[:, 64]) == pytest.approx(16.0, rel=0.02)


@pytest.mark.parametrize("diameter_px", [8.0, 20.0])
def test_focused_first_airy_minimum_at_half_diameter(diameter_px):
    probe = make_probe(ProbeConfig(type="focused", focus_diameter_px=diameter_px), (256, 256), PIXEL_M,
                       ENERGY_KEV)
    radius, profile = _radial_profile(_intensity(probe))
    inner = radius < 0.8 * diameter_px  # first minimum at D/2, second at 0.82 D
    assert radius[inner][np.argmin(profile[inner])] == pytest.approx(diameter_px / 2, rel=0.05)


def test_defocus_broadens_the_spot():
    # focus 80 nm at 8 keV: dr^2 / lambda ~ 40 um, so 200 um is several depths of focus
    config = ProbeConfig(type="focused", focus_diameter_px=8.0)
    focus = _intensity(make_probe(config, (128, 128), PIXEL_M, ENERGY_KEV))
    defocused = _intensity(make_probe(ProbeConfig(type="focused", focus_diameter_px=8.0, defocus_m=200e-6),
                                      (128, 128), PIXEL_M, ENERGY_KEV))
    assert defocused.sum() == pytest.approx(1.0, rel=1e-5)
    assert defocused.max() < 0.5 * focus.max()
    y, x = np.indices(focus.shape)
    core = np.hypot(y - 64, x - 64) <= 4.0  # inside the first Airy zero: ~84% of the power at focus
    assert focus[core].sum() > 0.8
    assert defocused[core].sum() < 0.5 * focus[core].sum()


def test_central_stop_keeps_power_and_focus_centre():
    probe = make_probe(ProbeConfig(type="focused", focus_diameter_px=8.0, central_stop=0.4), (128, 128),
                       PIXEL_M, ENERGY_KEV)
    intensity = _intensity(probe)
    assert intensity.sum() == pytest.approx(1.0, rel=1e-5)
    assert np.unravel_index(intensity.argmax(), intensity.shape) == (64, 64)


@pytest.mark.parametrize("probe_type", ["gaussian", "focused", "soft-disk"])
def test_modes_orthogonal_with_configured_weights(probe_type):
    config = ProbeConfig(type=probe_type, n_modes=6, mode_decay=0.6, curvature_rad=2.0)
    probe = make_probe(config, (96, 96), PIXEL_M, ENERGY_KEV)
    assert probe.dtype == np.complex64 and probe.shape == (6, 96, 96)
    gram = np.einsum("jyx,kyx->jk", probe.conj().astype(np.complex128), probe.astype(np.complex128))
    weights = mode_weights(6, 0.6)
    np.testing.assert_allclose(np.diag(gram).real, weights, rtol=1e-5)
    off_diagonal = gram - np.diag(np.diag(gram))
    assert np.abs(off_diagonal).max() < 1e-5
    assert np.trace(gram).real == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(weights[1:] / weights[:-1], 0.6)


def test_mode_zero_is_the_coherent_probe():
    single = make_probe(ProbeConfig(type="soft-disk", curvature_rad=1.0), (64, 64), PIXEL_M, ENERGY_KEV)[0]
    modes = make_probe(ProbeConfig(type="soft-disk", curvature_rad=1.0, n_modes=3), (64, 64), PIXEL_M,
                       ENERGY_KEV)
    np.testing.assert_allclose(modes[0] / np.sqrt(mode_weights(3, 0.5)[0]), single, atol=1e-6)


def test_soft_disk_radius_and_curvature():
    config = ProbeConfig(type="soft-disk", radius_px=20.0, edge_px=2.0, curvature_rad=3.0)
    probe = make_probe(config, (128, 128), PIXEL_M, ENERGY_KEV)[0].astype(np.complex128)
    radius, amplitude = _radial_profile(np.abs(probe), bin_px=0.5)
    amplitude = amplitude / amplitude[0]
    crossing = radius[np.flatnonzero(amplitude < 0.5)[0]]  # 0.5 erfc(0) = 1/2 at r = radius_px
    assert crossing == pytest.approx(20.0, abs=0.75)
    # quadratic phase: curvature_rad at r = radius_px / 2 scaled by 1/4
    phase = np.angle(probe[64, 64 + 10] / probe[64, 64])
    assert phase == pytest.approx(3.0 / 4, rel=1e-4)


def test_gaussian_guess_same_power_single_flat_mode():
    true = make_probe(ProbeConfig(type="soft-disk", n_modes=3, curvature_rad=2.0, guess="gaussian"), (64, 64),
                      PIXEL_M, ENERGY_KEV)
    guess = probe_guess(ProbeConfig(guess="gaussian"), true)
    assert guess.shape == (1, 64, 64) and guess.dtype == np.complex64
    assert _intensity(guess).sum() == pytest.approx(_intensity(true).sum(), rel=1e-5)
    assert np.abs(np.angle(guess[0])).max() == 0
    assert _rms_radius(_intensity(guess)) == pytest.approx(_rms_radius(_intensity(true)), rel=0.02)
    same = probe_guess(ProbeConfig(guess="true"), true)
    np.testing.assert_array_equal(same, true)
    assert same is not true


def test_check_probe_fits():
    probe = make_probe(ProbeConfig(type="gaussian", fwhm_px=4.0), (64, 64), PIXEL_M, ENERGY_KEV)
    check_probe_fits(probe, (64, 80), "object_shape")
    assert support_extent_px(probe)[0] < 64
    with pytest.raises(ValueError, match=r"probe larger than the field.*object_shape.*support"):
        check_probe_fits(probe, (48, 80), "object_shape")


@pytest.mark.parametrize("field, value", [
    ("n_modes", 0), ("n_modes", 16), ("type", "airy"), ("fwhm_px", -1.0), ("central_stop", 1.0),
    ("focus_diameter_px", 2.0),
    ("edge_px", 0.0), ("mode_decay", 0.0), ("guess", "random"), ("defocus_m", float("nan")),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"probe\.{field}"):
        ProbeConfig(**{field: value})


def test_config_from_mapping():
    config = from_mapping(ProbeConfig, {"type": "gaussian", "fwhm_px": 12, "n_modes": 2}, "probe")
    assert config.fwhm_px == 12.0 and config.n_modes == 2
    with pytest.raises(ValueError, match="probe.n_modes"):
        from_mapping(ProbeConfig, {"n_modes": 0}, "probe")
