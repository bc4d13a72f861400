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
