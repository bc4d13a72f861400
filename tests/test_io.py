"""CXI save/load, validation and inspection of Datasets.

The datasets are small random arrays built here (fixed seeds), not simulated: these tests pin the
file layout, the round trip and the error messages, independently of the simulator.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdibench import kinds, units
from cdibench.data import cxi as io
from cdibench.data.dataset import Dataset, Geometry, GroundTruth
from cdibench.data.inspection import inspect_png, summarize
from cdibench.data.validate import validate_dataset

PATTERN = (16, 12)  # non-square, so a row/column swap cannot pass unnoticed
ENERGY_KEV = 8.0
DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
TRANSLATION = "entry_1/sample_1/geometry_1/translation"


def make_dataset(kind: str = "ptycho-far", seed: int = 0, truth: bool = True,
                 mask_per_frame: bool = False) -> Dataset:
    """A small valid Dataset of ``kind`` with random content (fixed seed)."""
    rng = np.random.default_rng(seed)
    traits = kinds.kind(kind)
    n_angles = 3 if traits.multi_angle else 1  # bragg: rocking angles
    n_positions = 5 if traits.scanned else 1
    ny, nx = PATTERN
    if n_positions == 1:
        object_shape, positions = PATTERN, np.zeros((n_angles, 1, 2))
    else:
        object_shape = (40, 36)
        high = np.array(object_shape) - PATTERN
        positions = rng.uniform(0, high, size=(n_angles, n_positions, 2))
    if traits.detection[0] == "far":
        geometry = Geometry(ENERGY_KEV, 2.0, 75e-6,
                            float(units.farfield_pixel_size_m(ENERGY_KEV, 2.0, 75e-6, ny)), "far",
                            0.6 if traits.crystal else 0.0)
    else:
        geometry = Geometry(ENERGY_KEV, 0.05, 50e-9, 50e-9, "near")
    shape4 = (n_angles, n_positions, ny, nx)
    intensities = (rng.random(shape4) * 1e3).astype(np.float32)
    mask = np.zeros(shape4 if mask_per_frame else PATTERN, dtype=np.uint32)
    mask[..., 0, 0] = 1
    mask[..., 3, 5] = 2
    probe = (rng.normal(size=(2, ny, nx)) + 1j * rng.normal(size=(2, ny, nx))).astype(np.complex64)
    gt = None
    if truth:
        delta = rng.random((4, *object_shape), dtype=np.float32) * 1e-6
        beta = rng.random((4, *object_shape), dtype=np.float32) * 1e-8
        obj = np.exp(1j * rng.normal(size=delta.shape if traits.crystal else object_shape)).astype(np.complex64)
        true_positions = positions + rng.normal(scale=0.1, size=positions.shape)
        gt = GroundTruth(delta, beta, 50e-9, obj, probe[:1] * 2, true_positions)
    return Dataset(
        kind=kind, intensities=intensities, positions_px=positions, probe_guess=probe, mask=mask,
        geometry=geometry, angles_rad=np.linspace(0, np.pi, n_angles, endpoint=False),
        object_shape=object_shape,
        support=rng.random(object_shape) > 0.5 if traits.support else None, truth=gt,
        spec_toml=f'name = "test-{kind}"\nseed = {seed}\n', seed=seed,
        provenance={"git_commit": "0123abc", "numpy": np.__version__})


@pytest.fixture
def saved(tmp_path):
    """Path of a valid far-field ptychography file."""
    return io.save_cxi(make_dataset("ptycho-far"), tmp_path / "ptycho.cxi")


def assert_same(a: Dataset, b: Dataset):
    for name in ("intensities", "probe_guess", "mask", "angles_rad"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    # positions travel as translations in m: (p + k) * dx / dx, exact to a few ulp
    np.testing.assert_allclose(a.positions_px, b.positions_px, rtol=0, atol=1e-6)
    for field in dataclasses.fields(Geometry):
        x, y = getattr(a.geometry, field.name), getattr(b.geometry, field.name)
        assert x == y if isinstance(x, str) else np.isclose(x, y, rtol=1e-12, atol=0), field.name
    assert (a.kind, tuple(a.object_shape), a.spec_toml, a.seed) == (b.kind, b.object_shape, b.spec_toml, b.seed)
    assert a.provenance == b.provenance
    assert (a.support is None) == (b.support is None)
    if a.support is not None:
        assert b.support.dtype == bool and np.array_equal(a.support, b.support)
    assert (a.truth is None) == (b.truth is None)
    if a.truth is not None:
        for name in ("delta", "beta", "object", "probe", "positions_px"):
            x, y = getattr(a.truth, name), getattr(b.truth, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        assert a.truth.voxel_size_m == b.truth.voxel_size_m


# ------------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("kind", kinds.NAMES)
def test_round_trip_every_kind(tmp_path, kind):
    ds = make_dataset(kind, seed=kinds.NAMES.index(kind))
    back = io.load_cxi(io.save_cxi(ds, tmp_path / f"{kind}.cxi"))
    assert_same(validate_dataset(ds), back)


@pytest.mark.parametrize("truth", [True, False])
def test_round_trip_per_frame_mask_and_no_truth(tmp_path, truth):
    ds = make_dataset("multislice-tomo", truth=truth, mask_per_frame=True)
    assert_same(ds, io.load_cxi(io.save_cxi(ds, tmp_path / "t.cxi", compression="lzf")))


def test_plain_h5py_sees_the_cxi_layout(saved):
    ds = make_dataset("ptycho-far")
    n = ds.n_angles * ds.n_positions
    with h5py.File(saved, "r") as f:
        assert f["cxi_version"][()] == 160
        data = f[f"{DETECTOR}/data"]
        assert data.shape == (n, *PATTERN) and data.dtype == np.float32
        assert np.array_equal(f["entry_1/data_1/data"][()], ds.intensities.reshape(n, *PATTERN))
        assert isinstance(f.get("entry_1/data_1/data", getlink=True), h5py.SoftLink)
        t = f[TRANSLATION][()]
        assert t.shape == (n, 3) and np.array_equal(f["entry_1/data_1/translation"][()], t)
        # translation = -(probe centre - object centre) * object pixel, (x = col, y = row)
        c = ds.positions_px.reshape(-1, 2) + np.array(PATTERN) // 2 - np.array(ds.object_shape) // 2
        np.testing.assert_allclose(t[:, 0], -c[:, 1] * ds.geometry.object_pixel_m, rtol=1e-15)
        np.testing.assert_allclose(t[:, 1], -c[:, 0] * ds.geometry.object_pixel_m, rtol=1e-15)
        assert np.all(t[:, 2] == 0) and np.abs(t).max() < 1e-4  # metres
        assert np.isclose(f[f"{SOURCE}/energy"][()], ENERGY_KEV * 1e3 * 1.602176634e-19, rtol=1e-12)
        assert np.isclose(f[f"{SOURCE}/wavelength"][()], units.wavelength_m(ENERGY_KEV), rtol=1e-12)
        assert f[f"{DETECTOR}/distance"][()] == 2.0 and f[f"{DETECTOR}/x_pixel_size"][()] == 75e-6
        assert f[f"{DETECTOR}/mask"].dtype == np.uint32
        np.testing.assert_array_equal(f[f"{DETECTOR}/basis_vectors"][()],
                                      [[0, 75e-6, 0], [75e-6, 0, 0]])
        assert np.array_equal(f[f"{SOURCE}/illumination"][()], ds.probe_guess)
        assert f["entry_1/process_1/program"][()] == b"cdibench"
        assert f["entry_1/cdibench/kind"][()] == b"ptycho-far"
        assert np.array_equal(f["entry_1/cdibench/probe_guess"][()], ds.probe_guess)


def test_atomic_write_leaves_no_temp_files_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = io.save_cxi(make_dataset("cdi"), tmp_path / "a.cxi")
    io.save_cxi(make_dataset("cdi", seed=1), path)  # overwrite
    assert os.listdir(tmp_path) == ["a.cxi"]
    before = path.read_bytes()

    def boom(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(io, "_write_cdibench_group", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save_cxi(make_dataset("cdi", seed=2), path)
    assert os.listdir(tmp_path) == ["a.cxi"] and path.read_bytes() == before


def test_validate_normalises_lossless_dtypes():
    ds = make_dataset("cdi")
    loose = dataclasses.replace(ds, intensities=ds.intensities.astype(np.float64),
                                mask=ds.mask.astype(bool), object_shape=[np.int64(16), 12],
                                probe_guess=ds.probe_guess.astype(np.complex128))
    out = validate_dataset(loose)
    assert out.intensities.dtype == np.float32 and out.mask.dtype == np.uint32
    assert out.probe_guess.dtype == np.complex64 and out.object_shape == (16, 12)


def test_external_file_without_cdibench_group(tmp_path):
    ds = make_dataset("ptycho-far")
    path = io.save_cxi(dataclasses.replace(ds, intensities=ds.intensities[..., :12, :],
                                           mask=ds.mask[:12], probe_guess=ds.probe_guess[:, :12],
                                           truth=None), tmp_path / "ext.cxi")
    with h5py.File(path, "r+") as f:
        del f["entry_1/cdibench"]
    back = io.load_cxi(path)
    assert back.kind == "ptycho-far" and back.n_angles == 1 and back.seed is None
    # object pixel from lambda z / (N p); positions equal up to a common shift
    assert np.isclose(back.geometry.object_pixel_m,
                      units.farfield_pixel_size_m(ENERGY_KEV, 2.0, 75e-6, 12), rtol=1e-12)
    shift = back.positions_px - ds.positions_px * ds.geometry.object_pixel_m / back.geometry.object_pixel_m
    np.testing.assert_allclose(shift - shift[:, :1], 0, atol=1e-9)
    # cdtools' default basis points -y/-x: negating basis and translation must give the same scan,
    # and float32 energy/wavelength (as cdtools writes them) must pass; no probe -> keyword
    with h5py.File(path, "r+") as f:
        for name in (f"{DETECTOR}/basis_vectors", TRANSLATION):
            f[name][...] = -f[name][()]
        for name in (f"{SOURCE}/energy", f"{SOURCE}/wavelength"):
            value = f[name][()]
            del f[name]
            f[name] = np.float32(value)
        del f[f"{SOURCE}/illumination"]
    with pytest.raises(ValueError, match="source_1/illumination: missing"):
        io.load_cxi(path)
    flipped = io.load_cxi(path, probe_guess=ds.probe_guess[:, :12])
    np.testing.assert_allclose(flipped.positions_px, back.positions_px, atol=1e-6)


# ------------------------------------------------------------------------------- bad input

def edit(path, name, value=None):
    with h5py.File(path, "r+") as f:
        del f[name]
        if value is not None:
            f[name] = value


def test_nan_in_data_names_the_frame(saved):
    with h5py.File(saved, "r+") as f:
        f[f"{DETECTOR}/data"][2, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"detector_1/data: intensities: frame \(0, 2\).*NaN"):
        io.load_cxi(saved)


def test_negative_data_names_frame_and_min(saved):
    with h5py.File(saved, "r+") as f:
        f[f"{DETECTOR}/data"][1, 0, 0] = -7.0
    with pytest.raises(ValueError, match=r"detector_1/data: intensities: frame \(0, 1\) .*min value -7.0"):
        io.load_cxi(saved)


def test_translation_stored_transposed_is_read_with_a_warning(saved):
    with h5py.File(saved, "r") as f:
        t = f[TRANSLATION][()]
    edit(saved, TRANSLATION, t.T.copy())
    with pytest.warns(UserWarning, match=r"stored as \(3, 5\)"):
        back = io.load_cxi(saved)
    np.testing.assert_allclose(back.positions_px, make_dataset().positions_px, atol=1e-6)


def test_missing_distance(saved):
    edit(saved, f"{DETECTOR}/distance")
    with pytest.raises(ValueError, match="detector_1/distance: missing"):
        io.load_cxi(saved)


def test_negative_distance(saved):
    edit(saved, f"{DETECTOR}/distance", -1.0)
    with pytest.raises(ValueError, match="entry_1/instrument_1/detector_1/distance: expected a "
                                         "non-negative number in m, got -1.0"):
        io.load_cxi(saved)


def cone_beam_dataset() -> Dataset:
    """make_dataset("ptycho-near") lit by a cone beam: z1 = 2 mm, z2 = 1 m, 55 um pixels, so the
    effective pixel is 55 um / M (M = 501) and the effective distance z2 / M."""
    ds = make_dataset("ptycho-near")
    m = (2e-3 + 1.0) / 2e-3
    geometry = Geometry(ENERGY_KEV, 1.0 / m, 55e-6, 55e-6 / m, "near", focus_to_sample_m=2e-3,
                        sample_to_detector_m=1.0)
    return dataclasses.replace(ds, geometry=geometry)


def test_cone_beam_round_trip_stores_both_physical_distances(tmp_path):
    ds = cone_beam_dataset()
    path = io.save_cxi(ds, tmp_path / "cone.cxi")
    with h5py.File(path, "r") as f:
        assert f[f"{DETECTOR}/distance"][()] == 1.0 and f["entry_1/cdibench/focus_to_sample_m"][()] == 2e-3
        assert f[f"{DETECTOR}/x_pixel_size"][()] == 55e-6
    back = io.load_cxi(path)
    assert_same(ds, back)
    assert back.geometry.magnification == pytest.approx(501.0, rel=1e-12)
    with h5py.File(io.save_cxi(back, tmp_path / "again.cxi"), "r") as f:
        assert f[f"{DETECTOR}/distance"][()] == 1.0  # the physical z2, bit for bit


def test_plane_wave_file_has_no_focus_distance(tmp_path):
    path = io.save_cxi(make_dataset("ptycho-near"), tmp_path / "plane.cxi")
    with h5py.File(path, "r") as f:
        assert "entry_1/cdibench/focus_to_sample_m" not in f
    assert not io.load_cxi(path).geometry.cone


def test_focus_distance_on_a_far_field_kind_names_the_field(saved):
    with h5py.File(saved, "r+") as f:
        f["entry_1/cdibench/focus_to_sample_m"] = 2e-3
    with pytest.raises(ValueError, match="entry_1/cdibench/focus_to_sample_m: .*far-field"):
        io.load_cxi(saved)


@pytest.mark.parametrize("value", [0.0, -2e-3])
def test_cone_beam_focus_distance_must_be_positive(tmp_path, value):
    path = io.save_cxi(cone_beam_dataset(), tmp_path / "cone.cxi")
    edit(path, "entry_1/cdibench/focus_to_sample_m", value)
    with pytest.raises(ValueError, match=f"entry_1/cdibench/focus_to_sample_m: .*positive.*got {value!r}"):
        io.load_cxi(path)


def test_cone_beam_in_contact_names_the_distance(tmp_path):
    path = io.save_cxi(cone_beam_dataset(), tmp_path / "cone.cxi")
    edit(path, f"{DETECTOR}/distance", 0.0)
    with pytest.raises(ValueError, match="detector_1/distance: geometry.sample_to_detector_m .*> 0"):
        io.load_cxi(path)


def test_energy_stored_in_kev_instead_of_joule(saved):
    edit(saved, f"{SOURCE}/energy", 8.0)
    with pytest.raises(ValueError, match=r"source_1/energy: .*got 8.0 \(looks like keV, expected J\)"):
        io.load_cxi(saved)


def test_truncated_file(saved):
    size = saved.stat().st_size
    with open(saved, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(ValueError, match=rf"{saved.name}.*truncated"):
        io.load_cxi(saved)


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "notes.cxi"
    path.write_text("energy = 8 keV\n")
    with pytest.raises(ValueError, match=r"notes.cxi: cannot be opened as HDF5.*not HDF5"):
        io.load_cxi(path)


def test_positions_in_nanometres_are_off_the_object(saved):
    ds = make_dataset()
    with pytest.raises(ValueError, match=r"positions_px: probe window off the object.*expected 0 <="):
        validate_dataset(dataclasses.replace(ds, positions_px=ds.positions_px * 50.0))
    with h5py.File(saved, "r+") as f:
        f[TRANSLATION][...] = f[TRANSLATION][()] * 1e9  # nm written as m
    with pytest.raises(ValueError, match=r"geometry_1/translation: positions_px: probe window off"):
        io.load_cxi(saved)


def test_zero_probe(saved):
    ds = make_dataset()
    with pytest.raises(ValueError, match="probe_guess: zero probe"):
        validate_dataset(dataclasses.replace(ds, probe_guess=np.zeros_like(ds.probe_guess)))
    with h5py.File(saved, "r+") as f:
        f[f"{SOURCE}/illumination"][...] = 0
    with pytest.raises(ValueError, match="source_1/illumination: probe_guess: zero probe"):
        io.load_cxi(saved)


def test_mask_shape_mismatch(saved):
    ds = make_dataset()
    with pytest.raises(ValueError, match=r"mask: expected shape \(16, 12\)"):
        validate_dataset(dataclasses.replace(ds, mask=np.zeros((16, 13), np.uint32)))
    edit(saved, f"{DETECTOR}/mask", np.zeros((12, 16), np.uint32))
    with pytest.raises(ValueError, match=r"detector_1/mask: mask: expected shape"):
        io.load_cxi(saved)


def test_all_masked_frame():
    ds = make_dataset(mask_per_frame=True)
    mask = ds.mask.copy()
    mask[0, 3] = 1
    with pytest.raises(ValueError, match=r"mask: frame \(0, 3\) .* entirely masked"):
        validate_dataset(dataclasses.replace(ds, mask=mask))


def test_wrong_types_are_type_errors():
    ds = make_dataset()
    with pytest.raises(TypeError, match="intensities"):
        validate_dataset(dataclasses.replace(ds, intensities=ds.intensities.astype(np.complex64)))
    with pytest.raises(TypeError, match="mask"):
        validate_dataset(dataclasses.replace(ds, mask=ds.mask.astype(np.float32)))
    with pytest.raises(ValueError, match="geometry.energy_kev"):
        validate_dataset(dataclasses.replace(ds, geometry=dataclasses.replace(ds.geometry, energy_kev=8000.0)))


# ------------------------------------------------------------------------------- property

def _dataset_paths(path) -> list[str]:
    names = []
    with h5py.File(path, "r") as f:
        f.visit_links(lambda name: names.append(name) if not isinstance(
            f.get(name, getlink=True), h5py.HardLink) or isinstance(f[name], h5py.Dataset) else None)
    return sorted(names)


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cxi") / "valid.cxi"
    return io.save_cxi(make_dataset("multislice-tomo"), path)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), how=st.sampled_from(["delete", "nan", "negative", "wrong_shape"]))
def test_mutated_files_raise_only_value_or_type_errors(valid_file, data, how):
    name = data.draw(st.sampled_from(_dataset_paths(valid_file)))
    with tempfile.TemporaryDirectory() as tmp:
        path = shutil.copy(valid_file, os.path.join(tmp, "m.cxi"))
        with h5py.File(path, "r+") as f:
            node = f.get(name)
            old = np.asarray(node[()]) if isinstance(node, h5py.Dataset) else np.asarray(0.0)
            del f[name]
            numeric = old.dtype.kind in "biufc"
            if how == "nan":
                f[name] = np.full(old.shape, np.nan)
            elif how == "negative":
                f[name] = -np.abs(old).astype(np.float64) if numeric else -1.0
            elif how == "wrong_shape":
                f[name] = np.zeros(old.shape + (2,)) if old.ndim else np.zeros((2, 3))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                io.load_cxi(path)
        except (ValueError, TypeError) as exc:
            assert str(exc)


# ------------------------------------------------------------------------------- inspect

def test_summary_and_png(tmp_path):
    ds = make_dataset("multislice-tomo")
    text = summarize(ds)
    for word in ("multislice-tomo", "keV", "photons", "masked", "thickness/DOF", "test-multislice-tomo"):
        assert word in text
    assert "none (measured data)" in summarize(dataclasses.replace(ds, truth=None))
    png = inspect_png(ds, tmp_path / "ds.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inspect_png(dataclasses.replace(ds, truth=None), tmp_path / "nt.png")
