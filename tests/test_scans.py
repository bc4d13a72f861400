"""Scan patterns, positions on the object, inside checks, jitter."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cdibench.config import from_mapping
from cdibench.physics.scans import (ScanConfig, check_positions_inside, jitter_positions,
                                    object_shape_for_scan, scan_offsets_px, top_left_positions)

PIXEL_M = 10e-9


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_raster_count_step_and_centre():
    offsets = scan_offsets_px(ScanConfig(type="raster", shape=(3, 5), step_px=7.5), PIXEL_M, _rng())
    assert offsets.shape == (15, 2) and offsets.dtype == np.float64
    np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.unique(offsets[:, 0]), [-7.5, 0, 7.5])
    np.testing.assert_allclose(np.diff(np.unique(offsets[:, 1])), 7.5)
    np.testing.assert_allclose(offsets[1] - offsets[0], [0, 7.5])  # row-major: columns run fastest


def test_step_m_converts_with_the_pixel_size():
    offsets = scan_offsets_px(ScanConfig(type="raster", shape=(1, 2), step_m=50e-9), PIXEL_M, _rng())
    np.testing.assert_allclose(offsets[1] - offsets[0], [0, 5.0])


@pytest.mark.parametrize("n_positions", [30, 200])
def test_fermat_count_and_mean_nearest_neighbour(n_positions):
    config = ScanConfig(type="fermat", n_positions=n_positions, step_px=6.0)
    offsets = scan_offsets_px(config, PIXEL_M, _rng())
    assert offsets.shape == (n_positions, 2)
    np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=1e-9)
    distances, _ = cKDTree(offsets).query(offsets, k=2)
    assert distances[:, 1].mean() == pytest.approx(6.0, rel=0.15)
    assert distances[:, 1].min() > 0.5 * 6.0  # no clusters


def test_single_is_one_centred_position():
    offsets = scan_offsets_px(ScanConfig(type="single"), PIXEL_M, _rng())
    np.testing.assert_array_equal(offsets, np.zeros((1, 2)))


def test_random_offsets_bounded_recorded_and_seeded():
    nominal = scan_offsets_px(ScanConfig(shape=(10, 10), step_px=5.0), PIXEL_M, _rng())
    config = ScanConfig(shape=(10, 10), step_px=5.0, random_offset_px=1.5)
    offsets = scan_offsets_px(config, PIXEL_M, _rng(1))
    deviation = offsets - nominal  # = u - mean(u) with u uniform in [-1.5, 1.5]
    assert np.all(np.ptp(deviation, axis=0) <= 3.0)
    assert np.all(np.ptp(deviation, axis=0) > 2.5)  # 100 draws span nearly the full interval
    np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(offsets, scan_offsets_px(config, PIXEL_M, _rng(1)))


def test_top_left_aligns_centre_pixels():
    positions = top_left_positions(np.array([[0.0, 0.0], [2.5, -3.0]]), (32, 16), (101, 64))
    np.testing.assert_allclose(positions, [[50 - 16, 32 - 8], [52.5 - 16, 29 - 8]])


def test_positions_outside_raise_naming_the_field():
    probe, obj = (16, 16), (40, 40)
    check_positions_inside(np.array([[0.0, 0.0], [24.0, 24.0], [23.5, 0.2]]), probe, obj)
    with pytest.raises(ValueError, match=r"positions_px\[1, 1\] = 24\.2.*\(col\).*\[0, 24\]"):
        check_positions_inside(np.array([[0.0, 0.0], [3.0, 24.2]]), probe, obj)
    with pytest.raises(ValueError, match=r"positions_px\[0, 0\] = -0\.5"):
        check_positions_inside(np.array([[-0.5, 3.0]]), probe, obj)
    with pytest.raises(ValueError, match=r"truth\.positions_px.*finite"):
        check_positions_inside(np.array([[1.0, np.nan]]), probe, obj, name="truth.positions_px")
    with pytest.raises(ValueError, match=r"positions_px.*inf"):
        check_positions_inside(np.array([[np.inf, 1.0]]), probe, obj)


def test_jitter_rms_within_10_percent():
    positions = np.zeros((5000, 2))
    jittered = jitter_positions(positions, 0.8, _rng(2))
    assert jittered.dtype == np.float64 and jittered.shape == positions.shape
    # 10000 samples: the rms estimate has relative standard error 1/sqrt(2 * 10000) = 0.7%
    assert np.sqrt(np.mean(jittered**2)) == pytest.approx(0.8, rel=0.1)
    np.testing.assert_array_equal(jitter_positions(positions, 0.0, _rng()), positions)
    with pytest.raises(ValueError, match="rms_px"):
        jitter_positions(positions, -1.0, _rng())


@pytest.mark.parametrize("config", [
    ScanConfig(type="raster", shape=(4, 7), step_px=5.3, random_offset_px=0.7),
    ScanConfig(type="fermat", n_positions=50, step_px=4.0),
    ScanConfig(type="single"),
])
def test_object_shape_for_scan_is_tight_and_even(config):
    offsets = scan_offsets_px(config, PIXEL_M, _rng(3))
    probe, margin = (32, 24), 3
    shape = object_shape_for_scan(offsets, probe, margin)
    assert all(n % 2 == 0 for n in shape)
    positions = top_left_positions(offsets, probe, shape)
    inner = (shape[0] - 2 * margin, shape[1] - 2 * margin)
    check_positions_inside(positions - margin, probe, inner)
    for axis in range(2):  # two pixels smaller (the next even size) no longer fits
        smaller = list(shape)
        smaller[axis] -= 2
        with pytest.raises(ValueError):
            check_positions_inside(top_left_positions(offsets, probe, smaller) - margin, probe,
                                   (smaller[0] - 2 * margin, smaller[1] - 2 * margin))


@pytest.mark.parametrize("kwargs, field", [
    ({"type": "raster", "shape": (2, 2)}, "scan.step_px"),
    ({"type": "fermat", "step_px": 1.0, "step_m": 1e-8}, "scan.step_px"),
    ({"type": "raster", "step_px": -1.0}, "scan.step_px"),
    ({"type": "raster", "step_m": 0.0}, "scan.step_m"),
    ({"type": "spiral"}, "scan.type"),
    ({"type": "raster", "shape": (0, 2), "step_px": 1.0}, "scan.shape"),
    ({"type": "fermat", "n_positions": 0, "step_px": 1.0}, "scan.n_positions"),
    ({"type": "single", "random_offset_px": -1.0}, "scan.random_offset_px"),
])
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        ScanConfig(**kwargs)


def test_config_from_mapping():
    config = from_mapping(ScanConfig, {"type": "fermat", "n_positions": 20, "step_px": 5}, "scan")
    assert config.n_positions == 20 and config.step_px == 5.0
    with pytest.raises(ValueError, match=r"scan\.step_px"):
        from_mapping(ScanConfig, {"type": "fermat", "n_positions": 20}, "scan")
