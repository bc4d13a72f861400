"""DatasetSpec: TOML loading, errors naming the field, round trip; every shipped spec loads."""

from pathlib import Path

import pytest

from cdibench.data.spec import load_spec, spec_from_toml

DATASETS = Path(__file__).resolve().parent.parent / "datasets"

MINIMAL = """
name = "t"
kind = "ptycho-far"
[geometry]
energy_kev = 6.2
distance_m = 7.0
detector_pixel_m = 172e-6
pattern_px = 32
[phantom]
type = "image"
shape_px = [1, 64, 64]
[scan]
type = "raster"
shape = [2, 2]
step_px = 8.0
"""


def test_minimal_spec_and_round_trip():
    spec = spec_from_toml(MINIMAL)
    assert spec.scan.shape == (2, 2)
    assert spec_from_toml(spec.to_toml()) == spec
    assert spec.hash() == spec_from_toml(spec.to_toml()).hash()
    assert spec.with_seed(3).hash() != spec.hash()


@pytest.mark.parametrize("path", sorted(p for p in DATASETS.glob("*.toml") if not p.stem.startswith("suite-")),
                         ids=lambda p: p.stem)
def test_shipped_specs_load(path):
    spec = load_spec(path)
    assert spec.name == path.stem


@pytest.mark.parametrize("text, field", [
    (MINIMAL + "colour = 1\n", "colour"),
    (MINIMAL.replace("pattern_px = 32", "pattern_px = 32\npixel = 1"), "geometry.pixel"),
    (MINIMAL.replace("step_px = 8.0", "step_px = 8.0\nstpe = 2"), "scan.stpe"),
    (MINIMAL.replace('shape_px = [1, 64, 64]', 'shape_px = [1, 64, 64]\nmax_phse_rad = 1'), "phantom.max_phse_rad"),
])
def test_unknown_key_is_named(text, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        spec_from_toml(text)


@pytest.mark.parametrize("old, new, field", [
    ("energy_kev = 6.2", "energy_kev = -6.2", "geometry.energy_kev"),
    ("energy_kev = 6.2", "energy_kev = 0", "geometry.energy_kev"),
    ("distance_m = 7.0", "distance_m = -1.0", "geometry.distance_m"),
    ("pattern_px = 32", "pattern_px = 33", "geometry.pattern_px"),
    ('kind = "ptycho-far"', 'kind = "holography"', "kind"),
    ("step_px = 8.0", 'step_px = "8"', "scan.step_px"),
    ("distance_m = 7.0", "distance_m = 7.0\nobject_pixel_m = 1e-8", "geometry.detector_pixel_m"),
])
def test_bad_value_is_named(old, new, field):
    with pytest.raises((ValueError, TypeError), match=field.replace(".", r"\.")):
        spec_from_toml(MINIMAL.replace(old, new))


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ValueError, match="bad.toml"):
        load_spec(bad)


CONE = MINIMAL.replace('kind = "ptycho-far"', 'kind = "ptycho-near"').replace(
    "distance_m = 7.0", 'distance_m = 1.12\nfocus_to_sample_m = 3.65e-3\ndetection = "near"').replace(
    "detector_pixel_m = 172e-6", "detector_pixel_m = 55e-6")


def test_cone_beam_spec_derives_the_effective_geometry():
    """M = (z1 + z2) / z1, object pixel = detector pixel / M, distance z2 / M (the P25 setup:
    ~308, ~178.7 nm, ~3.64 mm); given the effective object pixel instead, the detector pixel follows."""
    geo = spec_from_toml(CONE).geometry
    assert geo.magnification == pytest.approx((3.65e-3 + 1.12) / 3.65e-3, rel=1e-15)
    assert (geo.magnification, geo.object_pixel, geo.effective_distance_m) == pytest.approx(
        (307.85, 178.66e-9, 3.638e-3), rel=1e-4)
    assert geo.detector_pixel == 55e-6 and geo.distance_m == 1.12
    by_object = spec_from_toml(CONE.replace("detector_pixel_m = 55e-6", "object_pixel_m = 178.66e-9")).geometry
    assert by_object.detector_pixel == pytest.approx(178.66e-9 * geo.magnification, rel=1e-12)
    assert spec_from_toml(spec_from_toml(CONE).to_toml()) == spec_from_toml(CONE)


def test_plane_wave_spec_does_not_write_the_focus_key():
    """Absent key = plane wave: the TOML (and so the hash of every existing spec) is unchanged."""
    spec = spec_from_toml(MINIMAL)
    assert "focus_to_sample_m" not in spec.to_toml()
    assert spec.geometry.magnification == 1.0 and spec.geometry.effective_distance_m == 7.0


def test_cone_beam_on_a_near_field_tomography_kind():
    text = CONE.replace('kind = "ptycho-near"', 'kind = "fullfield-tomo"').replace(
        "shape_px = [1, 64, 64]", "shape_px = [4, 32, 32]")
    assert spec_from_toml(text).geometry.magnification > 300


@pytest.mark.parametrize("old, new", [
    ('detection = "near"', ""),  # ptycho-near in far field: the geometry table refuses z1
    ('kind = "ptycho-near"', 'kind = "ptycho-far"'),  # a far-field kind, asked of the kinds table
    ("focus_to_sample_m = 3.65e-3", "focus_to_sample_m = 0.0"),
    ("focus_to_sample_m = 3.65e-3", "focus_to_sample_m = -3.65e-3"),
    ("focus_to_sample_m = 3.65e-3", "focus_to_sample_m = nan"),
])
def test_bad_cone_beam_names_the_field(old, new):
    with pytest.raises(ValueError, match=r"geometry\.focus_to_sample_m"):
        spec_from_toml(CONE.replace(old, new))


def test_cone_beam_in_contact_names_the_distance():
    with pytest.raises(ValueError, match=r"geometry\.distance_m = 0\.0 .*cone beam"):
        spec_from_toml(CONE.replace("distance_m = 1.12", "distance_m = 0.0"))
