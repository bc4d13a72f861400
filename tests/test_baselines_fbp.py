"""baselines.fbp: agreement with scikit-image's iradon, analytic disks, filters, stacks, errors."""

import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, resize

from baselines.fbp import FILTERS, angle_weights, fbp, fourier_filter


def _inside(n, margin=0.0):
    z, x = np.mgrid[:n, :n] - n // 2
    return z ** 2 + x ** 2 <= (n // 2 - margin) ** 2


def _nrmse(a, b, mask):
    return np.linalg.norm((a - b)[mask]) / np.linalg.norm(b[mask])


@pytest.fixture(scope="module")
def shepp_logan():
    image = resize(shepp_logan_phantom(), (256, 256), anti_aliasing=True)
    theta_deg = np.arange(180) * 1.0
    return image, theta_deg, radon(image, theta=theta_deg, circle=True)


def test_matches_iradon_on_shepp_logan(shepp_logan):
    _, theta_deg, sinogram = shepp_logan
    ours = fbp(sinogram.T, np.deg2rad(theta_deg))
    reference = iradon(sinogram, theta=theta_deg, filter_name="ramp", circle=True)
    # measured 0.0028: iradon pads to 1024 samples (sqrt(2) n, circle mode), we pad to 512
    assert _nrmse(ours, reference, _inside(256)) <= 0.02
    assert np.all(ours[~_inside(256)] == 0)


def _disk_sinogram(n, radius, z0, x0, angles):
    """Analytic projections (n_angles, n): chord 2 sqrt(R^2 - (s - s0)^2), s0 = x0 cos - z0 sin."""
    s = np.arange(n) - n // 2
    s0 = x0 * np.cos(angles) - z0 * np.sin(angles)
    return 2 * np.sqrt(np.clip(radius ** 2 - (s[None, :] - s0[:, None]) ** 2, 0, None))


def test_projection_centre_sign_matches_radon():
    n, z0, x0, radius = 96, 15.0, -9.0, 12.0
    z, x = np.mgrid[:n, :n] - n // 2
    disk = ((z - z0) ** 2 + (x - x0) ** 2 <= radius ** 2).astype(float)
    theta_deg = np.array([0.0, 30.0, 75.0, 120.0, 160.0])
    sinogram = radon(disk, theta=theta_deg, circle=True)
    s = np.arange(n) - n // 2
    centroid = (sinogram * s[:, None]).sum(0) / sinogram.sum(0)
    a = np.deg2rad(theta_deg)
    np.testing.assert_allclose(centroid, x0 * np.cos(a) - z0 * np.sin(a), atol=0.05)


@pytest.mark.parametrize("z0, x0", [(0.0, 0.0), (14.0, -20.0)])
def test_recovers_analytic_disk(z0, x0):
    n, radius = 128, 25.0
    angles = np.deg2rad(np.arange(180) * 1.0)
    slice_ = fbp(_disk_sinogram(n, radius, z0, x0, angles), angles)
    z, x = np.mgrid[:n, :n] - n // 2
    r = np.hypot(z - z0, x - x0)
    inside, outside = r < radius - 3, (r > radius + 3) & _inside(n, margin=3)
    # measured: mean inside 1.000 +- 0.001, RMS outside ~0.003 (edge ringing excluded)
    assert abs(slice_[inside].mean() - 1) < 0.02
    assert np.sqrt(np.mean(slice_[outside] ** 2)) < 0.05


def test_unequal_angles_are_weighted():
    n, radius = 96, 20.0
    angles = np.concatenate([np.linspace(0, np.pi / 3, 100, endpoint=False),
                             np.linspace(np.pi / 3, np.pi, 40, endpoint=False)])
    sinogram = _disk_sinogram(n, radius, 5.0, -3.0, angles)
    z, x = np.mgrid[:n, :n] - n // 2
    r = np.hypot(z - 5.0, x + 3.0)
    inside, outside = r < radius - 3, (r > radius + 3) & _inside(n, margin=3)
    ours = fbp(sinogram, angles)
    uniform = iradon(sinogram.T, theta=np.rad2deg(angles))  # weight pi / (2 N) for every angle
    # measured RMS outside: 0.024 with the cell weights, 0.28 with uniform weights
    assert abs(ours[inside].mean() - 1) < 0.02
    assert np.sqrt(np.mean(ours[outside] ** 2)) < 0.05
    assert np.sqrt(np.mean(uniform[outside] ** 2)) > 0.1


def test_angle_weights():
    np.testing.assert_allclose(angle_weights(np.deg2rad(np.arange(180.0))), np.pi / 360)
    np.testing.assert_allclose(angle_weights(np.deg2rad(np.arange(0, 360, 2.0))), np.pi / 360)
    np.testing.assert_allclose(angle_weights([0.0, 0.0, np.pi / 2]), [np.pi / 8, np.pi / 8,
                                                                      np.pi / 4])
    assert angle_weights([0.3]).item() == pytest.approx(np.pi / 2)


def test_filters_run_and_differ(shepp_logan):
    _, theta_deg, sinogram = shepp_logan
    results = {f: fbp(sinogram.T[::4], np.deg2rad(theta_deg[::4]), filter=f) for f in FILTERS}
    names = list(FILTERS)
    for i, a in enumerate(names):
        assert np.all(np.isfinite(results[a]))
        for b in names[i + 1:]:
            # measured: >= 0.037 relative (ram-lak vs shepp-logan), up to 0.16 (ram-lak vs hann)
            assert np.linalg.norm(results[a] - results[b]) > 0.02 * np.linalg.norm(results[a])
    h = {f: fourier_filter(64, f) for f in FILTERS}
    assert h["ram-lak"][0] == pytest.approx(0.0, abs=0.01)  # ramp ~ 2|f|: 0 at DC, 1 at Nyquist
    assert h["ram-lak"][-1] == pytest.approx(1, abs=0.01)
    assert h["hann"][-1] == pytest.approx(0.0, abs=1e-12)


def test_stack_equals_rows(shepp_logan):
    image, theta_deg, _ = shepp_logan
    small = resize(image, (48, 48), anti_aliasing=True)
    rows = [r * _inside(48) for r in (small, small[::-1], small.T)]  # 3 slices (z, x), one per y
    angles = np.deg2rad(theta_deg[::3])
    stack = np.stack([radon(r, theta=theta_deg[::3], circle=True).T for r in rows], axis=1)
    volume = fbp(stack.astype(np.float32), angles)
    assert volume.shape == (48, 3, 48) and volume.dtype == np.float32
    for y in range(3):
        np.testing.assert_allclose(volume[:, y, :], fbp(stack[:, y, :], angles), atol=1e-5)


@pytest.mark.parametrize("kwargs, name", [
    ({"projections": np.full((4, 8), np.nan)}, "projections"),
    ({"projections": np.ones(8)}, "projections"),
    ({"projections": np.ones((4, 8), complex)}, "projections"),
    ({"angles_rad": np.zeros(3)}, "angles_rad"),
    ({"angles_rad": np.array([0, 1, 2, np.inf])}, "angles_rad"),
    ({"filter": "ramp"}, "filter"),
    ({"circle": "yes"}, "circle"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"projections": np.ones((4, 8)), "angles_rad": np.linspace(0, 3, 4)} | kwargs
    with pytest.raises(ValueError, match=name):
        fbp(**args)
