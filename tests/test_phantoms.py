"""Tests of the phantom generators: materials, every registered type, validation, conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cdibench import units
from cdibench.phantoms import MATERIALS, PHANTOMS, Phantom, make_phantom, material, refractive_index
from cdibench.phantoms.thick import ellipsoid_fraction
from cdibench.phantoms.thin import load_image

THIN = ("siemens-star", "image", "blobs")
STOCHASTIC = ("blobs", "foam", "cone", "chip")
VOXEL_M, ENERGY_KEV = 1e-9, 0.954


def _shape(type_name: str) -> tuple[int, int, int]:
    return (1, 48, 40) if type_name in THIN else (20, 24, 22)


def _make(type_name: str, seed=0, params=None, shape=None) -> Phantom:
    return make_phantom(type_name, params or {}, shape or _shape(type_name), VOXEL_M, ENERGY_KEV, seed)


# --- materials -------------------------------------------------------------------------------

def test_gold_at_10kev_matches_cxro():
    # CXRO (Henke) Au, 19.32 g/cm^3, 10 keV: delta 2.99e-5, beta 2.21e-6; 3% covers table versions.
    delta, beta = refractive_index("Au", 19.32, 10.0)
    assert delta == pytest.approx(2.99e-5, rel=0.03)
    assert beta == pytest.approx(2.21e-6, rel=0.03)
    assert MATERIALS["gold"].index(10.0) == (delta, beta)


def test_refractive_index_scales_with_density():
    d1, b1 = refractive_index("SiO2", 1.1, 3.0)
    d2, b2 = refractive_index("SiO2", 2.2, 3.0)
    assert d2 == pytest.approx(2 * d1, rel=1e-9) and b2 == pytest.approx(2 * b1, rel=1e-9)


@pytest.mark.parametrize("args, field", [
    (("Xx", 1.0, 10.0), "formula"),
    (("", 1.0, 10.0), "formula"),
    (("Au", 0.0, 10.0), "density_g_cm3"),
    (("Au", 19.32, -1.0), "energy_kev"),
    (("Au", 19.32, 500.0), "energy_kev"),  # beyond the tables: NaN must not escape
])
def test_refractive_index_rejects_bad_input(args, field):
    with pytest.raises(ValueError, match=field):
        refractive_index(*args)


def test_material_lookup():
    assert material("Gold") == MATERIALS["gold"]
    assert material("gold", 10.0).density_g_cm3 == 10.0
    assert material("Fe2O3", 5.24).formula == "Fe2O3"
    with pytest.raises(ValueError, match="matrix_density_g_cm3"):
        material("Fe2O3", None, "phantom.matrix")
    with pytest.raises(ValueError, match="phantom.matrix"):
        material("notachemical", 1.0, "phantom.matrix")


# --- every registered type -------------------------------------------------------------------

@pytest.mark.parametrize("type_name", sorted(PHANTOMS))
def test_every_type_builds_float32_nonnegative(type_name):
    ph = _make(type_name)
    assert ph.shape == _shape(type_name)
    for arr in (ph.delta, ph.beta):
        assert arr.dtype == np.float32
        assert np.all(np.isfinite(arr)) and arr.min() >= 0
    assert ph.delta.max() > 0
    assert ph.meta["type"] == type_name and isinstance(ph.meta["params"], dict)
    assert all({"formula", "density_g_cm3", "delta", "beta"} <= set(m) for m in ph.meta["materials"])
    assert ph.summary()["shape"] == list(ph.shape)


@pytest.mark.parametrize("type_name", sorted(PHANTOMS))
def test_every_type_is_deterministic(type_name):
    a, b = _make(type_name, seed=7), _make(type_name, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.delta, b.delta)
    np.testing.assert_array_equal(a.beta, b.beta)


@pytest.mark.parametrize("type_name", STOCHASTIC)
def test_stochastic_types_change_with_seed(type_name):
    assert not np.array_equal(_make(type_name, seed=1).delta, _make(type_name, seed=2).delta)


@pytest.mark.parametrize("type_name", THIN)
def test_thin_types_refuse_several_slices(type_name):
    with pytest.raises(ValueError, match="shape_px"):
        _make(type_name, shape=(2, 16, 16))


# --- thin objects ------------------------------------------------------------------------------

def test_image_transmission_is_amplitude_times_exp_minus_i_phase():
    params = {"phase_image": "camera", "amplitude_image": "moon", "max_phase_rad": 2.0,
              "min_amplitude": 0.3}
    ph = make_phantom("image", params, (1, 40, 48), 5e-9, 8.0, 0)
    phase = 2.0 * load_image("camera", (40, 48))
    amplitude = 0.3 + 0.7 * load_image("moon", (40, 48))
    # float32 delta/beta: relative error ~1e-7 of a phase <= 2 rad
    np.testing.assert_allclose(ph.transmission(), amplitude * np.exp(-1j * phase), atol=2e-6)


def test_siemens_star_projects_the_physical_thickness():
    thickness_m, voxel_m, energy = 300e-9, 20e-9, 6.0
    ph = make_phantom("siemens-star", {"thickness_m": thickness_m}, (1, 64, 64), voxel_m, energy, 0)
    delta, beta = MATERIALS["gold"].index(energy)
    k = float(units.wavenumber_per_m(energy))
    t = ph.transmission().astype(np.complex128)
    full = ph.delta[0] == ph.delta.max()  # pixels fully covered by a spoke
    assert full.sum() > 100
    np.testing.assert_allclose(-np.angle(t[full]), k * delta * thickness_m, rtol=1e-5)
    np.testing.assert_allclose(np.abs(t[full]), np.exp(-k * beta * thickness_m), rtol=1e-5)
    assert ph.meta["physical_thickness_m"] == thickness_m


@pytest.mark.parametrize("type_name", ["image", "blobs"])
def test_fill_fraction_leaves_vacuum_margins(type_name):
    ph = _make(type_name, params={"fill_fraction": 0.5}, shape=(1, 64, 48))
    for arr in (ph.delta[0], ph.beta[0]):
        assert not arr[:16].any() and not arr[-16:].any()
        assert not arr[:, :12].any() and not arr[:, -12:].any()
    assert ph.delta[0, 16:48, 12:36].any()


def test_foam_fill_fraction_leaves_vacuum_around_the_cylinder():
    ph = _make("foam", params={"fill_fraction": 0.5}, shape=(32, 16, 32))
    occupied = (ph.delta != 0).any(axis=1)  # (n_z, n_x)
    assert not occupied[:7].any() and not occupied[-7:].any()
    assert not occupied[:, :7].any() and not occupied[:, -7:].any()


# --- thick objects -----------------------------------------------------------------------------

def test_foam_at_032nm_wavelength_is_beyond_the_depth_of_focus():
    # REGIMES.md quick case: N = 32, dx = 1 nm, 0.954 keV -> DOF = 5.2 dx^2 / lambda ~ 4 nm.
    ph = make_phantom("foam", {}, (32, 32, 32), 1e-9, 0.954, 0)
    assert ph.dof_ratio() > 4
    summary = ph.summary()
    assert summary["dof_ratio"] == pytest.approx(ph.dof_ratio())
    assert summary["thickness_m"] == pytest.approx(ph.thickness_m)
    assert summary["dof_m"] == pytest.approx(5.2e-18 / float(units.wavelength_m(0.954)))


def test_foam_contains_particles_and_voids():
    ph = _make("foam", params={"n_inclusions": 40, "void_fraction": 0.5}, shape=(32, 32, 32))
    gold, carbon = MATERIALS["gold"].index(ENERGY_KEV)[0], MATERIALS["carbon"].index(ENERGY_KEV)[0]
    assert ph.meta["n_voids"] > 0 and ph.meta["n_particles"] > 0
    assert np.isclose(ph.delta.max(), gold, rtol=1e-5)
    core = ph.delta[12:20, :, 12:20]  # inside the cylinder: matrix, gold or void, never vacuum edge
    assert (core < carbon * 0.99).any()  # a void (or its partial-volume edge)


def test_chip_has_three_materials():
    ph = _make("chip", shape=(24, 32, 24))
    values = {MATERIALS[m].index(ENERGY_KEV)[0] for m in ("sio2", "copper", "tungsten")}
    centre = ph.delta[:, :, 12]  # the pillar axis column, fully inside
    found = {v for v in values if np.isclose(centre, v, rtol=1e-5).any()}
    assert len(found) >= 2
    assert len(ph.meta["materials"]) == 3


def test_shepp_logan_maximum_maps_to_material():
    ph = make_phantom("shepp-logan-3d", {"material": "pmma"}, (48, 48, 48), VOXEL_M, 3.0, 0)
    delta, beta = MATERIALS["pmma"].index(3.0)
    assert ph.delta.max() <= delta * (1 + 1e-6)
    assert ph.delta.max() > 0.9 * delta  # the skull shell reaches the material value
    np.testing.assert_allclose(ph.beta * delta, ph.delta * beta, rtol=1e-5, atol=1e-15)


@settings(max_examples=25, deadline=None, derandomize=True)  # fixed examples in CI
@given(st.floats(1.0, 6.0), st.tuples(*[st.floats(-0.5, 0.5)] * 3))
@example(1.625, (0.0, 0.0, 0.0))  # lattice-aligned centres are the worst cases
@example(2.175, (0.5, 0.5, 0.5))
@example(5.125, (0.0, 0.0, 0.0))
def test_supersampled_sphere_has_the_right_volume(radius, shift):
    centre = np.array([11.0, 11.0, 11.0]) + shift
    sl, frac = ellipsoid_fraction(centre, (radius,) * 3, (23, 23, 23))
    assert frac.min() >= 0 and frac.max() <= 1
    # adaptive supersampling: measured worst case 2.7% over r in [1, 6] and sub-voxel shifts
    assert frac.sum() == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.04)


def test_ellipsoid_outside_the_grid_is_skipped():
    assert ellipsoid_fraction((-10.0, 5.0, 5.0), (2.0, 2.0, 2.0), (8, 8, 8)) is None


# --- registry and configs ----------------------------------------------------------------------

def test_unknown_type_names_the_field_value_and_choices():
    with pytest.raises(ValueError, match=r"phantom\.type.*'sponge'.*foam"):
        make_phantom("sponge", {}, (8, 8, 8), VOXEL_M, ENERGY_KEV, 0)


def test_unknown_key_names_the_field():
    with pytest.raises(ValueError, match=r"phantom\.radius_px"):
        make_phantom("foam", {"radius_px": 3}, (8, 8, 8), VOXEL_M, ENERGY_KEV, 0)


@pytest.mark.parametrize("type_name, params, field", [
    ("foam", {"fill_fraction": 1.5}, "phantom.fill_fraction"),
    ("foam", {"inclusion_radius_px": [3.0, 1.0]}, "phantom.inclusion_radius_px"),
    ("foam", {"matrix": "unobtainium"}, "phantom.matrix"),
    ("cone", {"wall_fraction": 0.0}, "phantom.wall_fraction"),
    ("chip", {"line_pitch_px": 2}, "phantom.line_pitch_px"),
    ("image", {"phase_image": "nonexistent"}, "phantom.phase_image"),
    ("image", {"min_amplitude": 0.0}, "phantom.min_amplitude"),
    ("siemens-star", {"thickness_m": -1.0}, "phantom.thickness_m"),
])
def test_bad_values_name_the_field(type_name, params, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        make_phantom(type_name, params, _shape(type_name), VOXEL_M, ENERGY_KEV, 0)


def test_mistyped_value_is_a_type_error():
    with pytest.raises(TypeError, match=r"phantom\.n_inclusions"):
        make_phantom("foam", {"n_inclusions": "many"}, (8, 8, 8), VOXEL_M, ENERGY_KEV, 0)
