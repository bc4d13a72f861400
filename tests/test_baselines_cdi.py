"""baselines.cdi (ER, HIO, shrink-wrap) on noise-free far-field CDI made here with numpy.fft, which
is independent of baselines._fft; plus the centred unitary FFT helpers and input validation."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, gaussian_filter

from baselines._fft import fft2c, ifft2c
from baselines.cdi import er, hio, hio_er, shrinkwrap

N = 64


def _centred_fft(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))


def _smooth(rng, sigma):
    field = gaussian_filter(rng.standard_normal((N, N)), sigma)
    return (field - field.min()) / (field.max() - field.min())


@pytest.fixture(scope="module")
def case():
    """Complex object (amplitude 0.5..1, phase within +-1.5 rad) on a right-triangle support of 32 px
    legs in a 64 x 64 field (oversampling 2 per axis; a triangle is not centrosymmetric)."""
    rng = np.random.default_rng(0)
    obj = (0.5 + 0.5 * _smooth(rng, 3)) * np.exp(1.5j * (2 * _smooth(rng, 4) - 1))
    row, col = np.mgrid[:N, :N] - N // 4
    support = (row >= 0) & (col >= 0) & (row < N // 2) & (col <= row)
    obj = (obj * support).astype(np.complex64)
    return obj, support, np.abs(_centred_fft(obj))


def _nrmse(recon, truth, support):
    """Closed-form global phase alignment, then ||truth - e^{i phi} recon|| / ||truth|| on the support."""
    r, t = recon[support], truth[support]
    phi = np.angle(np.vdot(r, t))
    return float(np.linalg.norm(t - np.exp(1j * phi) * r) / np.linalg.norm(t))


def test_baselines_import_nothing_of_cdibench():
    code = "import sys, baselines; print(sorted(m for m in sys.modules if m.split('.')[0] in ('cdibench', 'tensorflow')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_fft2c_centred_unitary_and_inverse():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((3, 48, 40)) + 1j * rng.standard_normal((3, 48, 40))).astype(np.complex64)
    y = fft2c(x)
    assert y.dtype == np.complex64
    reference = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(y, reference, atol=1e-5)  # complex64 round-off on O(1) values
    np.testing.assert_allclose(np.linalg.norm(y), np.linalg.norm(x), rtol=1e-5)  # Parseval
    np.testing.assert_allclose(ifft2c(y), x, atol=1e-5)
    delta = np.zeros((8, 6), np.complex64)
    delta[4, 3] = 1  # a point at the centre pixel has a flat spectrum
    np.testing.assert_allclose(fft2c(delta), np.full((8, 6), 1 / np.sqrt(48)), atol=1e-7)


def test_hio_er_recovers_object_not_its_twin(case):
    obj, support, amplitudes = case
    result = hio_er(amplitudes, support, n_cycles=20, hio_iter=40, er_iter=10, rng=0)
    recon, errors = result["object"], result["errors"]
    assert recon.dtype == np.complex64 and errors.shape == (1000,)
    error = _nrmse(recon, obj, support)
    assert error <= 0.05, error  # measured 1.5e-7: noise-free data, exact support
    # the twin conj(obj(-r)) has the same diffraction pattern but lives on the reflected triangle
    twin = np.conj(np.roll(obj[::-1, ::-1], (1, 1), axis=(0, 1)))
    np.testing.assert_allclose(np.abs(_centred_fft(twin)), amplitudes, atol=1e-4)
    assert _nrmse(recon, twin, support) > 0.5  # measured 3.75
    assert errors[-1] < 1e-6 * errors[0]


def test_er_error_never_increases_and_stagnates_above_hio_er(case):
    obj, support, amplitudes = case
    recon, errors = er(amplitudes, support, 1000, rng=0)
    # Fienup (1982): the ER error is non-increasing; relative slack 1e-5 for float32 round-off
    # (largest relative increase measured: 7e-7)
    assert np.all(np.diff(errors) <= 1e-5 * errors[:-1])
    assert _nrmse(recon, obj, support) > 0.05  # measured 0.106 after as many iterations as hio_er


def test_hio_alone_escapes_er_stagnation(case):
    obj, support, amplitudes = case
    recon, errors = hio(amplitudes, support, 600, beta=0.9, rng=0)
    x, _ = er(amplitudes, support, 50, x0=recon)
    assert _nrmse(x, obj, support) <= 0.05  # measured 2e-7


def test_mask_ignores_bad_pixels(case):
    obj, support, amplitudes = case
    rng = np.random.default_rng(5)
    bad = rng.random(amplitudes.shape) < 0.03
    corrupted = amplitudes.copy()
    corrupted[bad] = 3 * amplitudes.max() * rng.random(bad.sum())
    masked = hio_er(corrupted, support, 20, mask=bad.astype(np.uint8), rng=0)
    assert _nrmse(masked["object"], obj, support) <= 0.05  # measured 1.4e-7
    unmasked = hio_er(corrupted, support, 20, rng=0)
    assert _nrmse(unmasked["object"], obj, support) > 0.5  # measured 2.9


def test_shrinkwrap_thresholds_blurred_modulus():
    row, col = np.mgrid[:N, :N] - N // 2
    disk = np.hypot(row, col) < 10
    support = shrinkwrap(disk * np.exp(1j * col / 5.0), sigma_px=1.0, threshold=0.5)
    assert support.dtype == bool
    # a blurred unit step crosses 1/2 at the edge: the support is the disk up to edge pixels
    assert (support ^ disk).sum() <= 0.1 * disk.sum()


def test_hio_er_shrinkwrap_tightens_loose_support(case):
    obj, support, amplitudes = case
    loose = binary_dilation(support, iterations=4)
    result = hio_er(amplitudes, loose, 20, shrinkwrap_every=1, sigma_px=1.0, threshold=0.2, rng=0)
    assert result["support"].sum() < 0.7 * loose.sum()  # 940 -> 615 pixels; the truth has 528
    # a loose support leaves the object free to translate: align the best integer shift first
    best = min(_nrmse(np.roll(result["object"], (dy, dx), axis=(0, 1)), obj, loose)
               for dy in range(-5, 6) for dx in range(-5, 6))
    assert best <= 0.25, best  # measured 0.10 (integer-shift alignment only)


def test_callback_sees_every_iteration_and_stops_early(case):
    _, support, amplitudes = case
    seen = []

    def callback(iteration, state):
        seen.append((iteration, state["error"], state["object"].shape, state["support"].dtype))
        return iteration == 24

    result = hio_er(amplitudes, support, 5, hio_iter=10, er_iter=10, rng=0, callback=callback)
    assert [s[0] for s in seen] == list(range(25))
    assert len(result["errors"]) == 25 and seen[-1][1] == result["errors"][-1]
    assert seen[0][2:] == ((N, N), np.dtype(bool))


def test_seeded_random_start_is_reproducible(case):
    _, support, amplitudes = case
    a, _ = hio(amplitudes, support, 5, rng=3)
    b, _ = hio(amplitudes, support, 5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


BAD_INPUTS = {
    "negative amplitudes": (dict(amplitudes=-1.0), "amplitudes"),
    "NaN amplitudes": (dict(amplitudes=np.nan), "amplitudes"),
    "support shape": (dict(support=np.ones((N, N + 1), bool)), "support"),
    "empty support": (dict(support=np.zeros((N, N), bool)), "support"),
    "float support": (dict(support=np.ones((N, N))), "support"),
    "beta zero": (dict(beta=0.0), "beta"),
    "beta above 1": (dict(beta=1.5), "beta"),
    "negative n_iter": (dict(n_iter=-1), "n_iter"),
    "mask shape": (dict(mask=np.zeros((N, 3), bool)), "mask"),
    "x0 shape": (dict(x0=np.ones((3, 3), np.complex64)), "x0"),
    "x0 NaN": (dict(x0=np.full((N, N), np.nan, np.complex64)), "x0"),
}


@pytest.mark.parametrize("label", BAD_INPUTS)
def test_bad_inputs_raise_naming_the_argument(case, label):
    _, support, amplitudes = case
    change, name = BAD_INPUTS[label]
    kwargs = dict(amplitudes=amplitudes.copy(), support=support, n_iter=2, beta=0.9)
    if name == "amplitudes":
        kwargs["amplitudes"][3, 5] = change["amplitudes"]
    else:
        kwargs.update(change)
    with pytest.raises(ValueError, match=f"^{name}: got .*expected"):
        hio(**kwargs)
    if name != "beta":
        kwargs.pop("beta")
        with pytest.raises(ValueError, match=f"^{name}:"):
            er(**kwargs)


def test_hio_er_and_shrinkwrap_validate_their_own_arguments(case):
    _, support, amplitudes = case
    with pytest.raises(ValueError, match="^n_cycles:"):
        hio_er(amplitudes, support, -2)
    with pytest.raises(ValueError, match="^threshold:"):
        hio_er(amplitudes, support, 1, threshold=1.5)
    with pytest.raises(ValueError, match="^sigma_px:"):
        shrinkwrap(np.ones((4, 4)), sigma_px=0, threshold=0.2)
    with pytest.raises(ValueError, match="^x:"):
        shrinkwrap(np.zeros((4, 4)), sigma_px=1.0, threshold=0.2)
