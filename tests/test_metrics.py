"""Metrics: invariances (global phase, shift, ramp, twin), known values (FRC, 1/2-bit threshold,
resolution, time to target, SSIM) and input errors.

Test objects are float64/complex128 so that exact invariances can be checked near machine precision.
"""

import numpy as np
import pytest
import scipy.fft as sfft
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from cdibench.metrics import (align, apply_phase_ramp, apply_shift, fit_phase_ramp, frc, fsc, global_phase,
                              half_bit_threshold, nrmse, psnr, register_shift, remove_phase_ramp, resolution,
                              score_complex, score_volume, ssim, time_to_target, twin)
from cdibench.physics.fft import fourier_shift

SEED = 20240601
N = 64


def _radius(shape):
    """|f| [cycles/px] on the unshifted FFT grid of ``shape``."""
    f_y, f_x = sfft.fftfreq(shape[0])[:, None], sfft.fftfreq(shape[1])[None, :]
    return np.hypot(f_y, f_x)


def _bandlimited(rng, n=N, cutoff=0.15):
    """Complex128 (n, n) random field with its spectrum limited to |f| < cutoff, max |x| = 1."""
    spectrum = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) * (_radius((n, n)) < cutoff)
    field = sfft.ifft2(spectrum)
    return field / np.abs(field).max()


def _coordinates(n=N):
    centre = n // 2
    return (np.arange(n) - centre)[:, None].astype(float), (np.arange(n) - centre)[None, :].astype(float)


def _compact(rng, n=N, sigma=6.0):
    """Band-limited complex field under a Gaussian envelope: isolated like a CDI object, decaying to
    ~1e-6 at the edges so that a phase ramp and a periodic Fourier shift commute to that level."""
    y, x = _coordinates(n)
    return _bandlimited(rng, n) * np.exp(-(y ** 2 + x ** 2) / (2 * sigma ** 2))


def _cdi_object(rng, n=N):
    """CDI-like object: smooth complex values (amplitude 0.5-1, phase +-1.5 rad) on a triangular
    support, which is not centrosymmetric, so the twin is not a shifted copy."""
    y, x = _coordinates(n)
    support = (y >= -12) & (x >= -10) & (y + x <= 8)
    smooth = _bandlimited(rng, n, cutoff=0.1)
    amplitude = 0.75 + 0.25 * smooth.real / np.abs(smooth.real).max()
    phase = 1.5 * smooth.imag / np.abs(smooth.imag).max()
    return amplitude * np.exp(1j * phase) * support, support


# ---------------------------------------------------------------- global phase

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n_y=st.integers(1, 12), n_x=st.integers(1, 12),
       phi=st.floats(-20.0, 20.0, allow_nan=False))
def test_global_phase_invariance(seed, n_y, n_x, phi):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n_y, n_x)) + 1j * rng.standard_normal((n_y, n_x))
    estimate = np.exp(1j * phi) * truth
    found = global_phase(estimate, truth)
    assert abs(np.angle(np.exp(1j * (found + phi)))) < 1e-9  # found = -phi modulo 2 pi
    assert nrmse(np.exp(1j * found) * estimate, truth) < 1e-6
    if min(n_y, n_x) > 1:
        aligned, info = align(estimate, truth, shift=False, ramp=False)
        assert nrmse(aligned, truth) < 1e-6
        assert info["phase_rad"] == pytest.approx(found)


def test_global_phase_weights_select_region():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    estimate = truth * np.exp(0.8j)
    estimate[:, : N // 2] *= np.exp(-2.0j)  # other half: another phase, excluded by the weights
    weights = np.zeros((N, N))
    weights[:, N // 2:] = 1.0
    assert global_phase(estimate, truth, weights) == pytest.approx(-0.8, abs=1e-12)


# ---------------------------------------------------------------- shift

def test_apply_shift_sign_matches_physics_fourier_shift():
    image = np.zeros((16, 16), complex)
    image[10, 10] = 1.0
    moved = apply_shift(image, (2, -3))
    assert np.unravel_index(np.argmax(np.abs(moved)), moved.shape) == (12, 7)  # positive: larger index
    rng = np.random.default_rng(SEED)
    field = (rng.standard_normal((16, 16)) + 1j * rng.standard_normal((16, 16))).astype(np.complex64)
    ours = apply_shift(field, (0.3, -1.7))
    assert ours.dtype == np.complex64
    np.testing.assert_allclose(ours, fourier_shift(field, np.array([0.3, -1.7])), atol=1e-5)
    real = apply_shift(field.real.astype(np.float32), (0.3, -1.7))
    assert real.dtype == np.float32
    np.testing.assert_allclose(apply_shift(apply_shift(field, (0.3, -1.7)), (-0.3, 1.7)), field, atol=1e-5)


def test_subpixel_shift_is_registered_and_removed():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    estimate = apply_shift(truth, (2.3, -1.7)) * np.exp(0.4j)
    coarse = register_shift(estimate, truth, upsample=20, refine=False)
    np.testing.assert_allclose(coarse, (-2.3, 1.7), atol=1 / 20)  # upsampled-DFT grid precision
    shift = register_shift(estimate, truth)
    # the refined correlation peak is exact for a noise-free band-limited copy; 1e-6 px leaves room
    # for the optimiser's stopping rule (it reaches ~1e-9 px here)
    np.testing.assert_allclose(shift, (-2.3, 1.7), atol=1e-6)
    aligned, info = align(estimate, truth, ramp=False)
    # tolerance: NRMSE ~ 2 pi |f| |shift error| with |f| <= 0.15 cycles/px, so 1e-6 px -> ~1e-6;
    # 1e-3 would already fail for a 0.001 px error on this band-limited image
    assert nrmse(aligned, truth) < 1e-5
    np.testing.assert_allclose(info["shift_px"], (-2.3, 1.7), atol=1e-6)


def test_shift_registration_uses_region_of_truth():
    rng = np.random.default_rng(SEED)
    truth = _compact(rng)
    region = np.zeros((N, N), bool)
    region[16:48, 16:48] = True
    estimate = apply_shift(truth, (-3.4, 0.6))
    np.testing.assert_allclose(register_shift(estimate, truth, region=region), (3.4, -0.6), atol=1e-3)


# ---------------------------------------------------------------- phase ramp

def test_phase_ramp_removed_including_wraps():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    y, x = _coordinates()
    a, b, c = 0.4, 0.73, -0.41  # rad, rad/px: the phase wraps many times across the image
    estimate = truth * np.exp(1j * (a + b * y + c * x))
    np.testing.assert_allclose(fit_phase_ramp(estimate, truth), (a, b, c), atol=1e-9)
    assert nrmse(remove_phase_ramp(estimate, truth), truth) < 1e-9
    aligned, info = align(estimate, truth, shift=False)
    assert nrmse(aligned, truth) < 1e-3
    np.testing.assert_allclose(info["ramp_rad"][1:], (b, c), atol=1e-9)


def test_phase_ramp_fit_ignores_pixels_outside_weights():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    y, x = _coordinates()
    estimate = truth * np.exp(1j * (0.05 * y - 0.02 * x))
    weights = np.zeros((N, N))
    weights[8:40, 20:60] = 1.0
    estimate[weights == 0] = rng.standard_normal(np.sum(weights == 0))  # garbage outside
    np.testing.assert_allclose(fit_phase_ramp(estimate, truth, weights)[1:], (0.05, -0.02), atol=1e-9)


def test_apply_phase_ramp_inverts_ramp():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    y, x = _coordinates()
    ramped = truth * np.exp(1j * (1.0 + 0.2 * y + 0.1 * x))
    np.testing.assert_allclose(apply_phase_ramp(ramped, (1.0, 0.2, 0.1)), truth, atol=1e-12)


def test_shift_and_ramp_together():
    rng = np.random.default_rng(SEED)
    truth = _compact(rng)
    y, x = _coordinates()
    estimate = apply_shift(truth * np.exp(1j * (0.3 * y - 0.17 * x)), (2.3, -1.7)) * np.exp(1.1j)
    aligned, info = align(estimate, truth)
    # the envelope leaves ~1e-6 at the periodic boundary, where ramp and Fourier shift do not commute
    assert nrmse(aligned, truth) < 1e-4
    np.testing.assert_allclose(info["shift_px"], (-2.3, 1.7), atol=1e-4)
    np.testing.assert_allclose(info["ramp_rad"][1:], (0.3, -0.17), atol=1e-5)
    # info reproduces the result, steps applied in the documented order
    redone = info["scale"] * np.exp(1j * info["phase_rad"]) * apply_phase_ramp(
        apply_shift(estimate, info["shift_px"]), info["ramp_rad"])
    np.testing.assert_allclose(redone, aligned, atol=1e-12)


# ---------------------------------------------------------------- twin

@pytest.mark.parametrize("n", [8, 9])
def test_twin_reflects_about_centre_pixel(n):
    image = np.zeros((n, n), complex)
    c = n // 2
    image[c + 3, c - 2] = 1 + 2j
    image[c, c] = 5j
    mirrored = twin(image)
    assert mirrored[c - 3, c + 2] == 1 - 2j
    assert mirrored[c, c] == -5j  # the centre pixel maps to itself
    np.testing.assert_array_equal(twin(mirrored), image)  # involution
    # same Fourier modulus: the ambiguity CDI cannot resolve
    np.testing.assert_allclose(np.abs(sfft.fft2(mirrored)), np.abs(sfft.fft2(image)), atol=1e-12)


def test_twin_found_for_cdi_object():
    rng = np.random.default_rng(SEED)
    truth, support = _cdi_object(rng)
    aligned, info = align(twin(truth), truth, twin=True)
    assert info["twin"] is True
    assert nrmse(aligned, truth) < 1e-5
    wrong, _ = align(twin(truth), truth, twin=False)
    assert nrmse(wrong, truth) > 0.3  # the support is not centrosymmetric: the test has teeth
    # a shifted, phase-offset twin (as CDI returns it) is found too; exact up to the optimiser
    shifted = apply_shift(twin(truth), (3.25, -2.5)) * np.exp(-0.6j)
    aligned, info = align(shifted, truth, region=support, twin=True)
    assert info["twin"] is True
    assert nrmse(aligned, truth, support) < 1e-5
    # and an untwinned estimate is left untwinned
    _, info = align(truth * np.exp(0.3j), truth, twin=True)
    assert info["twin"] is False


def test_align_scale_and_dtype():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng)
    estimate = (2.5 * np.exp(0.7j) * truth).astype(np.complex64)
    aligned, info = align(estimate, truth, scale=True)
    assert aligned.dtype == np.complex64
    assert info["scale"] == pytest.approx(0.4, rel=1e-5)
    assert nrmse(aligned, truth) < 1e-5  # complex64 rounding


# ---------------------------------------------------------------- NRMSE, SSIM, PSNR

def test_nrmse_known_value_and_region():
    truth = np.ones((4, 4))
    estimate = truth.copy()
    estimate[0, 0] = 3.0  # error 2 at one pixel
    assert nrmse(estimate, truth) == pytest.approx(2 / 4)
    region = np.zeros((4, 4), bool)
    region[2:, 2:] = True
    assert nrmse(estimate, truth, region) == 0.0


def test_ssim_identical_and_region_average():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng).real
    assert ssim(truth, truth) == pytest.approx(1.0, abs=1e-12)
    estimate = truth.copy()
    estimate[:, : N // 2] += 0.3 * rng.standard_normal((N, N // 2))
    far = np.zeros((N, N), bool)
    far[:, N // 2 + 4:] = True  # > half a 7-px window away from the noisy half
    assert ssim(estimate, truth, far) == pytest.approx(1.0, abs=1e-12)
    assert ssim(estimate, truth) < 0.9
    # the region value is the mean of scikit-image's full SSIM map over the region
    data_range = np.ptp(truth)
    _, ssim_map = structural_similarity(truth, estimate, data_range=data_range, full=True)
    near = ~far
    assert ssim(estimate, truth, near, data_range=data_range) == pytest.approx(ssim_map[near].mean(), rel=1e-12)


def test_ssim_3d_and_small_axis():
    rng = np.random.default_rng(SEED)
    volume = rng.random((5, 16, 16))  # 5 < 7: the window shrinks to 5
    assert ssim(volume, volume) == pytest.approx(1.0, abs=1e-12)
    assert ssim(volume + 0.1 * rng.random((5, 16, 16)), volume) < 1.0


def test_psnr_known_value():
    truth = np.zeros(100)
    truth[0] = 1.0  # data range 1
    estimate = truth + 0.1  # MSE 0.01 -> 20 dB
    assert psnr(estimate, truth) == pytest.approx(20.0)
    assert psnr(truth, truth) == np.inf


def test_score_complex():
    rng = np.random.default_rng(SEED)
    truth, support = _cdi_object(rng)
    estimate = apply_shift(truth, (1.5, 0.5)) * np.exp(2.0j)
    scores = score_complex(estimate, truth, region=support)
    assert scores["nrmse"] < 1e-5
    assert scores["ssim_phase"] == pytest.approx(1.0, abs=1e-6)
    assert scores["ssim_amplitude"] == pytest.approx(1.0, abs=1e-6)
    assert scores["psnr_phase"] > 80 and scores["psnr_amplitude"] > 80
    assert scores["shift_y_px"] == pytest.approx(-1.5, abs=1e-5)
    assert scores["twin"] is False
    noisy = truth + 0.05 * (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N)))
    worse = score_complex(noisy, truth, region=support)
    assert 0.02 < worse["nrmse"] < 0.2 and worse["ssim_phase"] < 1.0


def test_score_volume_sample_region():
    from scipy import ndimage
    z, y, x = np.mgrid[:16, :24, :24]
    truth = np.where((z - 8) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 < 16, 2.0e-5, 0.0)  # delta-like sphere
    truth[8, 12, 12] = 6.0e-5  # a gold-like grain
    perfect = score_volume(truth, truth)
    assert perfect["nrmse"] == 0 and perfect["ssim"] == pytest.approx(1.0) and perfect["ssim_in"] == pytest.approx(1.0)
    blurred = ndimage.gaussian_filter(truth, 1.0)
    scores = score_volume(blurred, truth)
    assert 0 < scores["ssim_in"] < scores["ssim"] < 1  # vacuum inflates the whole-volume SSIM
    assert scores["nrmse_in"] == pytest.approx(scores["nrmse"], rel=0.05)  # error lives near the sample
    rolled = score_volume(np.roll(truth, (1, -2, 3), axis=(0, 1, 2)), truth, shift=True)
    assert (rolled["shift_z_px"], rolled["shift_y_px"], rolled["shift_x_px"]) == (-1, 2, -3)
    assert rolled["nrmse"] == 0


# ---------------------------------------------------------------- FRC, FSC, resolution

def test_half_bit_threshold_by_hand():
    # n = 1: (0.2071 + 1.9102) / (1.2071 + 0.9102) = 2.1173 / 2.1173 = 1
    # n = 100 (sqrt 10): (0.2071 + 0.19102) / (1.2071 + 0.09102) = 0.39812 / 1.29812 = 0.306690...
    # n = 10000 (sqrt 100): (0.2071 + 0.019102) / (1.2071 + 0.009102) = 0.226202 / 1.216202 = 0.185991...
    np.testing.assert_allclose(half_bit_threshold([1, 100, 10000]),
                               [1.0, 0.39812 / 1.29812, 0.226202 / 1.216202], rtol=1e-12)
    assert half_bit_threshold(1e12) == pytest.approx(0.2071 / 1.2071, rel=1e-5)  # large-n limit 0.1716


def test_frc_identical_images_is_one():
    rng = np.random.default_rng(SEED)
    image = rng.standard_normal((N, N))
    freq, values, threshold = frc(image, image)
    assert freq.shape == values.shape == threshold.shape == (N // 2 + 1,)
    assert freq[0] == 0 and freq[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(values, 1.0, atol=1e-12)
    assert threshold[0] == pytest.approx(1.0)  # one pixel in the zero-frequency ring
    complex_image = _bandlimited(rng, cutoff=1.0)
    np.testing.assert_allclose(frc(complex_image, complex_image)[1], 1.0, atol=1e-12)


def test_frc_independent_noise_is_near_zero():
    rng = np.random.default_rng(SEED)
    freq, values, threshold = frc(rng.standard_normal((N, N)), rng.standard_normal((N, N)))
    assert abs(values[1:].mean()) < 0.1
    # rings of uncorrelated data rarely exceed the 1/2-bit threshold (that is what it is for)
    assert np.mean(values[1:] > threshold[1:]) < 0.1


def test_frc_lowpass_copy_gives_cutoff_resolution():
    """Known answer: one image against a copy through an ideal low-pass at f_c = 0.25 cycles/px plus
    independent noise (std 0.5 of the signal's): FRC ~ 1/sqrt(1 + 0.25) = 0.89 below f_c, ~0 above,
    so the 1/2-bit crossing is at f_c and the resolution 1/f_c = 4 px (the ring at f_c is half cut)."""
    rng = np.random.default_rng(SEED)
    n = 128
    signal = rng.standard_normal((n, n))
    lowpass = sfft.ifft2(sfft.fft2(signal) * (_radius((n, n)) <= 0.25)).real
    copy = lowpass + 0.5 * rng.standard_normal((n, n))
    freq, values, threshold = frc(signal, copy)
    res_px, res_m = resolution(freq, values, threshold, pixel_size_m=10e-9)
    assert res_px == pytest.approx(4.0, abs=1.0)
    assert res_m == pytest.approx(res_px * 10e-9)
    assert np.all(values[8:30] > 0.75)  # rings from 8 on hold >= 50 px: fluctuations < 0.1


def test_fsc_identical_and_noise():
    rng = np.random.default_rng(SEED)
    volume = rng.standard_normal((16, 16, 16))
    freq, values, threshold = fsc(volume, volume)
    assert freq.shape == (9,)
    np.testing.assert_allclose(values, 1.0, atol=1e-12)
    assert abs(fsc(volume, rng.standard_normal((16, 16, 16)))[1][1:].mean()) < 0.1
    with pytest.raises(ValueError, match="a must have 3"):
        fsc(volume[0], volume[0])


def test_resolution_crossing_rules():
    freq = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    curve = np.array([1.0, 0.9, 0.6, 0.2, 0.1, 0.05])
    # margin to 0.4: +0.2 at f = 0.2, -0.2 at f = 0.3 -> crossing at 0.25 -> 4 px
    assert resolution(freq, curve, 0.4) == pytest.approx((4.0, None))
    assert resolution(freq, curve, 0.4, pixel_size_m=5e-9)[1] == pytest.approx(20e-9)
    assert resolution(freq, curve, np.full(6, 0.01)) == (2.0, None)  # never crosses: Nyquist, 2 px
    assert resolution(freq, curve, 0.95) == (10.0, None)  # already below at the first ring
    with pytest.raises(ValueError, match="curve contains NaN"):
        resolution(freq, np.r_[curve[:-1], np.nan], 0.4)


# ---------------------------------------------------------------- time to target

def test_time_to_target():
    wall_s = [0.0, 1.0, 2.0, 3.0]
    history = [1.0, 0.5, 0.2, 0.1]
    # target 0.3 between 0.5 (t = 1) and 0.2 (t = 2): 1 + (0.3 - 0.5) / (0.2 - 0.5) = 1.6667 s
    assert time_to_target(wall_s, history, 0.3) == pytest.approx(1 + 2 / 3)
    assert time_to_target(wall_s, history, 0.05) is None
    assert time_to_target(wall_s, history, 2.0) == 0.0
    ssim_history = [0.1, 0.5, 0.9, 0.95]
    assert time_to_target(wall_s, ssim_history, 0.7, lower_is_better=False) == pytest.approx(1.5)
    assert time_to_target(wall_s, [1.0, np.nan, 0.2, 0.1], 0.3) == 2.0  # no interpolation across NaN
    assert time_to_target([], [], 0.3) is None
    with pytest.raises(ValueError, match="equal length"):
        time_to_target(wall_s, history[:3], 0.3)


# ---------------------------------------------------------------- bad inputs

def test_bad_inputs_raise_value_error_naming_the_argument():
    rng = np.random.default_rng(SEED)
    truth = _bandlimited(rng, n=16)
    with pytest.raises(ValueError, match="estimate shape"):
        nrmse(truth[:8], truth)
    with pytest.raises(ValueError, match="estimate shape"):
        align(truth[:, :8], truth)
    with pytest.raises(ValueError, match="a shape"):
        frc(truth[:8], truth)
    bad = truth.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="estimate contains NaN"):
        align(bad, truth)
    with pytest.raises(ValueError, match="truth contains NaN"):
        nrmse(truth, bad)
    with pytest.raises(ValueError, match="region is empty"):
        nrmse(truth, truth, region=np.zeros((16, 16), bool))
    with pytest.raises(ValueError, match="region is empty"):
        align(truth, truth, region=np.zeros((16, 16), bool))
    with pytest.raises(ValueError, match="region shape"):
        ssim(truth.real, truth.real, region=np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="weights"):
        global_phase(truth, truth, weights=np.zeros((16, 16)))
    with pytest.raises(ValueError, match="estimate must be real"):
        ssim(truth, truth.real)
    with pytest.raises(ValueError, match="truth is zero"):
        nrmse(truth, np.zeros((16, 16)))
    with pytest.raises(ValueError, match="upsample"):
        register_shift(truth, truth, upsample=0)
    with pytest.raises(ValueError, match="shift"):
        apply_shift(truth, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="n_bins"):
        frc(truth, truth, n_bins=100)


def test_a_wrong_correlation_peak_does_not_misalign_an_already_aligned_estimate():
    """Outside the region an estimate is unconstrained; a bright shifted copy there draws the
    correlation peak to 9 px, but align keeps the registered shift only if it lowers the error."""
    from cdibench.metrics.alignment import _align_one

    rng = np.random.default_rng(0)
    truth = np.exp(0.3j * rng.standard_normal((64, 64))) * (1 + 0.2 * rng.standard_normal((64, 64)))
    region = np.zeros((64, 64), bool)
    region[20:44, 20:44] = True
    estimate = np.where(region, truth, 5 * np.roll(truth, 9, axis=1))
    registered, info = _align_one(estimate, truth, region, True, True, True, 20)
    assert abs(info["shift_px"][1]) > 8  # the trap works: registration alone is fooled
    aligned, info = align(estimate, truth, region=region, scale=True)
    assert info["shift_px"] == (0.0, 0.0)
    assert nrmse(aligned[region], truth[region]) < 1e-6 < nrmse(registered[region], truth[region])


def test_a_failed_alignment_candidate_leaves_no_reference_cycle():
    """The unshifted twin of an off-centre object misses the region and fails; the failure must not
    keep _align_one's arrays alive in a cycle (it did: ~10 MiB per evaluation at 256^2 until the
    cyclic GC ran, which grew the memory of every CDI run with its number of metrics evaluations)."""
    import gc
    import types

    truth = np.zeros((32, 32), np.complex128)
    truth[4:12, 4:12] = np.exp(1j * np.random.default_rng(0).random((8, 8)))
    region = np.abs(truth) > 0
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # unreachable objects go to gc.garbage instead of being freed
    try:
        aligned, info = align(truth.copy(), truth, region=region, twin=True)
        gc.collect()
        leaked = [o for o in gc.garbage if isinstance(o, types.FrameType)
                  and o.f_code.co_filename.endswith("alignment.py")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not leaked, [frame.f_code.co_name for frame in leaked]
    assert not info["twin"] and np.allclose(aligned[region], truth[region])
