"""The simulator: determinism, self-consistency, finer-grid consistency, errors at the boundary."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cdibench.data.spec import load_spec, spec_from_toml
from cdibench.phantoms import Phantom
from cdibench.physics.fft import fft2c
from cdibench.physics.noise import NoiseConfig
from cdibench.physics.ptychography import exit_waves
from cdibench.simulation import scene, simulate, transmission

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
QUICK = sorted(DATASETS.glob("quick-*.toml"))


def _spec(name, **changes):
    return dataclasses.replace(load_spec(DATASETS / f"{name}.toml"), **changes)


def _noise_free(spec, **simulation):
    return dataclasses.replace(
        spec, noise=NoiseConfig(photons_per_frame=spec.noise.photons_per_frame, poisson=False),
        simulation=dataclasses.replace(spec.simulation, **simulation))


@pytest.mark.parametrize("path", QUICK, ids=lambda p: p.stem)
def test_quick_datasets(path):
    spec = load_spec(path)
    ds = simulate(spec)
    assert ds.intensities.dtype == np.float32 and ds.intensities.ndim == 4
    assert np.all(ds.intensities >= 0) and np.all(np.isfinite(ds.intensities))
    assert np.all(ds.intensities == np.round(ds.intensities))  # Poisson counts
    assert ds.positions_px.shape == ds.intensities.shape[:2] + (2,)
    # photon budget: incident photons per frame, less absorption and high-angle losses
    photons = ds.intensities.sum(axis=(-2, -1))
    assert np.all(photons <= 1.05 * spec.noise.photons_per_frame)
    assert np.mean(photons) > 0.3 * spec.noise.photons_per_frame
    assert ds.truth.delta.shape == spec.phantom.shape_px


def test_same_seed_identical_bytes_other_seed_differs():
    spec = _spec("quick-ptycho-far")
    a, b = simulate(spec), simulate(spec)
    assert a.intensities.tobytes() == b.intensities.tobytes()
    assert a.positions_px.tobytes() == b.positions_px.tobytes()
    c = simulate(spec.with_seed(spec.seed + 1))
    assert a.intensities.tobytes() != c.intensities.tobytes()


def test_noise_free_data_is_the_thin_object_forward_model():
    """At equal discretisation, data = sum_modes |F(P(r - p) O(r))|^2 with the stored truth."""
    spec = _noise_free(_spec("quick-ptycho-far"), grid_upsample=1)
    ds = simulate(spec)
    waves = exit_waves(ds.truth.object, ds.truth.probe, ds.truth.positions_px[0])
    expected = (np.abs(fft2c(waves)) ** 2).sum(axis=1)
    np.testing.assert_allclose(ds.intensities[0], expected, rtol=2e-4, atol=1e-3 * expected.max())


@pytest.mark.parametrize("name", ["quick-ptycho-far", "quick-multislice"])
def test_finer_simulation_agrees_with_truth_grid(name):
    """Data simulated on a 2x finer grid match the coarse forward model of the stored truth, and
    a half-pixel registration error between the grids would be clearly visible."""
    spec = _noise_free(_spec(name), grid_upsample=2)
    ds = simulate(spec)
    truth = ds.truth
    coarse = Phantom(truth.delta, truth.beta, truth.voxel_size_m, spec.geometry.energy_kev)
    samp = scene.Sampling(truth.voxel_size_m, 1, spec.simulation.slices_per_voxel, scene.window(spec))
    errors = []
    for shift_px in (0.0, 0.5):
        model = transmission._expected_intensities(spec, coarse, truth.probe, truth.positions_px + shift_px,
                                                   samp, np.zeros(1))
        errors.append(np.linalg.norm(model - ds.intensities) / np.linalg.norm(ds.intensities))
    # measured: 0.8% (far field) and 3e-5 (multislice); a half-pixel error costs 4.5x to 45x more
    assert errors[0] < 0.02
    assert errors[1] > 3 * errors[0]


def test_thick_case_is_beyond_depth_of_focus():
    ds = simulate(_spec("quick-multislice-tomo"))
    ph = Phantom(ds.truth.delta, ds.truth.beta, ds.truth.voxel_size_m, ds.geometry.energy_kev)
    assert ph.dof_ratio() > 4


def test_cdi_support_not_centrosymmetric():
    ds = simulate(_spec("quick-cdi"))
    assert ds.support.sum() > 0
    assert not np.array_equal(ds.support, ds.support[::-1, ::-1])
    # oversampling >= 2 per axis: support extent <= half the field
    rows, cols = np.nonzero(ds.support)
    assert np.ptp(rows) + 1 <= 32 and np.ptp(cols) + 1 <= 32


def test_probe_larger_than_the_field():
    spec = _spec("quick-ptycho-far")
    spec = dataclasses.replace(spec, phantom=dataclasses.replace(spec.phantom, shape_px=(1, 48, 48)))
    with pytest.raises(ValueError, match="probe larger than the field.*phantom.shape_px"):
        simulate(spec)


def test_positions_off_the_object():
    spec = _spec("quick-ptycho-far")
    spec = dataclasses.replace(spec, scan=dataclasses.replace(spec.scan, step_px=40.0))
    with pytest.raises(ValueError, match="positions_px"):
        simulate(spec)


def test_positions_off_the_object_after_jitter():
    spec = _spec("quick-ptycho-far")
    spec = dataclasses.replace(spec, phantom=dataclasses.replace(spec.phantom, shape_px=(1, 108, 108)),
                               errors=dataclasses.replace(spec.errors, position_jitter_rms_px=5.0))
    with pytest.raises(ValueError, match="position_jitter_rms_px"):
        simulate(spec)


def test_cdi_needs_square_field():
    text = (DATASETS / "quick-cdi.toml").read_text().replace("[1, 64, 64]", "[1, 64, 96]")
    with pytest.raises(ValueError, match="phantom.shape_px"):
        simulate(spec_from_toml(text))
