"""Bad input, table-driven: every kind is refused at the boundary (spec load, dataset load and
validation, solver entry, suite load, the runner's pre-flight check, the command line) with a
ValueError/TypeError (or OSError for a missing file) whose message names the field, the bad
value and what was expected. Negative intensities are refused, never clamped. Property tests:
mutated specs and CXI files raise only those errors, never anything else, never a hang.

The datasets here are small random arrays built in this file (fixed seeds), not simulated.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdibench import units
from cdibench.cli import main
from cdibench.data import cxi as io
from cdibench.data.dataset import Dataset, Geometry
from cdibench.data.spec import load_spec, spec_from_mapping, spec_from_toml, tomllib
from cdibench.data.validate import validate_dataset
from cdibench.harness import runner
from cdibench.harness.reconstruct import reconstruct
from cdibench.harness.suite import load_suite
from cdibench.solvers.registry import solver_config

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
PTYCHO_TOML = (DATASETS / "quick-ptycho-far.toml").read_text()
PATTERN = (16, 12)  # non-square: a row/column swap cannot pass unnoticed
OBJECT = (40, 36)
DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
TRANSLATION = "entry_1/sample_1/geometry_1/translation"


def dataset(seed: int = 0, mask_per_frame: bool = False, pattern: tuple = PATTERN) -> Dataset:
    """A valid far-field ptychography Dataset: 5 positions of a (16, 12) probe on a (40, 36) object."""
    rng = np.random.default_rng(seed)
    n = 5
    positions = rng.uniform(0, np.array(OBJECT) - pattern, size=(1, n, 2))
    geometry = Geometry(8.0, 2.0, 75e-6, float(units.farfield_pixel_size_m(8.0, 2.0, 75e-6, pattern[0])), "far")
    probe = (rng.normal(size=(1, *pattern)) + 1j * rng.normal(size=(1, *pattern))).astype(np.complex64)
    return Dataset(kind="ptycho-far", intensities=(rng.random((1, n, *pattern)) * 1e3).astype(np.float32),
                   positions_px=positions, probe_guess=probe,
                   mask=np.zeros((1, n, *pattern) if mask_per_frame else pattern, np.uint32),
                   geometry=geometry, angles_rad=np.zeros(1), object_shape=OBJECT, seed=seed)


def replaced(**changes) -> Dataset:
    return dataclasses.replace(dataset(), **changes)


def with_value(name: str, index: tuple, value) -> Dataset:
    ds = dataset()
    arr = getattr(ds, name).copy()
    arr[index] = value
    return dataclasses.replace(ds, **{name: arr})


def saved(tmp: Path, ds: Dataset | None = None) -> Path:
    return io.save_cxi(ds or dataset(), tmp / "data.cxi")


def edited(tmp: Path, name: str, value=None, scale: float | None = None) -> Path:
    """A saved file with dataset ``name`` replaced by ``value`` (deleted if None), or scaled."""
    path = saved(tmp)
    with h5py.File(path, "r+") as f:
        if scale is not None:
            f[name][...] = f[name][()] * scale
            return path
        del f[name]
        if value is not None:
            f[name] = value
    return path


def deleted(tmp: Path, *names: str) -> Path:
    path = saved(tmp)
    with h5py.File(path, "r+") as f:
        for name in names:
            del f[name]
    return path


def external(tmp: Path, translation=None) -> Path:
    """A saved file without the cdibench group (read as an external far-field ptychography file,
    which needs a square pattern)."""
    path = saved(tmp, dataset(pattern=(16, 16)))
    with h5py.File(path, "r+") as f:
        del f["entry_1/cdibench"]
        if translation is not None:
            del f[TRANSLATION]
            f[TRANSLATION] = translation
    return path


def truncated(tmp: Path) -> Path:
    path = saved(tmp)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    return path


def random_bytes(tmp: Path) -> Path:
    path = tmp / "random.cxi"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def spec_text(old: str, new: str) -> str:
    assert old in PTYCHO_TOML, old
    return PTYCHO_TOML.replace(old, new)


def suite_file(tmp: Path, text: str) -> Path:
    for spec in DATASETS.glob("quick-*.toml"):
        shutil.copy(spec, tmp / spec.name)
    path = tmp / "suite-bad.toml"
    path.write_text(text)
    return path


HUGE_SUITE = """name = "huge"
[[case]]
dataset = "quick-ptycho-far"
name = "huge-fermat"
overrides = { "scan.type" = "fermat", "scan.n_positions" = 1000000, "geometry.pattern_px" = 512 }
runs = [{ solver = "epie", options = { iterations = 1 } }]
"""
KIND_MISMATCH_SUITE = """name = "mismatch"
[[case]]
dataset = "quick-ptycho-far"
runs = [{ solver = "hio" }]
"""


def run_suite_file(tmp: Path, text: str):
    return runner.run_suite(load_suite(str(suite_file(tmp, text))), tmp / "out", progress=False)


def _epie(ds):
    return reconstruct(ds, "epie", solver_config("epie", {"iterations": 1}), progress=False)


def _dataset_with_string_intensities():
    return replaced(intensities=np.full((1, 5, *PATTERN), "abc"))


# kind -> (call(tmp_path), exception type, substrings the message must hold: field, value, expected)
BAD_INPUT = {
    # ---- dataset validation (simulator output, load_cxi and solver entry all call it)
    "nan-intensities": (lambda t: validate_dataset(with_value("intensities", (0, 2, 3, 4), np.nan)),
                        ValueError, ["intensities", "frame (0, 2)", "nan at pixel (3, 4)", "expected finite"]),
    "inf-intensities": (lambda t: validate_dataset(with_value("intensities", (0, 1, 0, 5), np.inf)),
                        ValueError, ["intensities", "frame (0, 1)", "inf at pixel (0, 5)", "expected finite"]),
    "negative-intensities-refused": (lambda t: validate_dataset(with_value("intensities", (0, 3, 2, 2), -3.0)),
                                     ValueError, ["intensities", "frame (0, 3)", "-3.0", "expected non-negative"]),
    "all-masked-frame": (lambda t: validate_dataset(dataclasses.replace(
                            dataset(mask_per_frame=True),
                            mask=np.pad(np.ones((1, 1, *PATTERN), np.uint32), ((0, 0), (3, 1), (0, 0), (0, 0))))),
                         ValueError, ["mask", "frame (0, 3)", "entirely masked", "expected at least one good"]),
    "mask-shape-mismatch": (lambda t: validate_dataset(replaced(mask=np.zeros((16, 13), np.uint32))),
                            ValueError, ["mask", "(16, 13)", "expected shape (16, 12)"]),
    "positions-shape-mismatch": (lambda t: validate_dataset(replaced(positions_px=np.zeros((1, 4, 2)))),
                                 ValueError, ["positions_px", "(1, 4, 2)", "expected shape (1, 5, 2)"]),
    "probe-shape-mismatch": (lambda t: validate_dataset(replaced(probe_guess=np.ones((1, 12, 16), np.complex64))),
                             ValueError, ["probe_guess", "(1, 12, 16)", "expected shape (n_modes >= 1, 16, 12)"]),
    "positions-off-the-object": (lambda t: validate_dataset(with_value("positions_px", (0, 2, 1), 30.0)),
                                 ValueError, ["positions_px", "30.0 (col)", "expected 0 <= col <= 24"]),
    "positions-in-nm": (lambda t: validate_dataset(replaced(positions_px=dataset().positions_px * 1e3 + 1e3)),
                        ValueError, ["positions_px", "off the object", "expected 0 <=", "not m or nm"]),
    "zero-probe": (lambda t: validate_dataset(replaced(probe_guess=np.zeros((1, *PATTERN), np.complex64))),
                   ValueError, ["probe_guess", "every value is 0", "expected a non-zero guess"]),
    "nan-probe": (lambda t: validate_dataset(with_value("probe_guess", (0, 4, 4), np.nan)),
                  ValueError, ["probe_guess", "nan", "index (0, 4, 4)", "expected finite"]),
    "complex-intensities": (lambda t: validate_dataset(replaced(intensities=dataset().intensities.astype("c8"))),
                            TypeError, ["intensities", "complex64", "expected dtype kind in 'fiu'"]),
    "string-intensities": (lambda t: validate_dataset(_dataset_with_string_intensities()),
                           TypeError, ["intensities", "<U3", "expected dtype kind in 'fiu'"]),
    "float-mask": (lambda t: validate_dataset(replaced(mask=np.zeros(PATTERN, np.float32))),
                   TypeError, ["mask", "float32", "expected dtype kind in 'biu'"]),
    "energy-negative-geometry": (lambda t: Geometry(-8.0, 2.0, 75e-6, 1e-8),
                                 ValueError, ["geometry.energy_kev", "-8.0", "> 0"]),
    "distance-zero-far-field": (lambda t: Geometry(8.0, 0.0, 75e-6, 1e-8, "far"),
                                ValueError, ["geometry.distance_m", "0.0", "> 0"]),
    "cone-beam-far-field": (lambda t: Geometry(8.0, 2.0, 75e-6, 1e-8, "far", focus_to_sample_m=2e-3,
                                               sample_to_detector_m=2.0),
                            ValueError, ["geometry.focus_to_sample_m", "0.002", "far-field"]),
    "cone-beam-physical-pixel": (lambda t: Geometry(8.0, 2e-3 * 1.0 / 1.002, 55e-6, 55e-6, "near",
                                                    focus_to_sample_m=2e-3, sample_to_detector_m=1.0),
                                 ValueError, ["geometry.object_pixel_m", "5.5e-05", "effective value"]),
    # ---- CXI files (load_cxi): the message names the HDF5 path
    "cxi-nan-intensities": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/data", np.full((5, *PATTERN), np.nan))),
                            ValueError, ["detector_1/data", "nan at pixel (0, 0)", "expected finite"]),
    "cxi-string-intensities": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/data", np.full((5, *PATTERN), b"x"))),
                               TypeError, ["detector_1/data", "|S1", "expected dtype kind in 'fiu'"]),
    "cxi-missing-data": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/data")),
                         ValueError, ["detector_1/data", "missing", "required"]),
    "cxi-missing-energy": (lambda t: io.load_cxi(deleted(t, f"{SOURCE}/wavelength", f"{SOURCE}/energy")),
                           ValueError, ["source_1/energy", "missing", "wavelength"]),
    "cxi-energy-negative": (lambda t: io.load_cxi(edited(t, f"{SOURCE}/energy", -1.3e-15)),
                            ValueError, ["source_1/energy", "-1.3e-15", "expected a positive number in J"]),
    "cxi-energy-in-kev": (lambda t: io.load_cxi(edited(t, f"{SOURCE}/energy", 8.0)),
                          ValueError, ["source_1/energy", "got 8.0", "expected J"]),
    "cxi-distance-negative": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/distance", -1.0)),
                              ValueError, ["detector_1/distance", "-1.0", "expected a non-negative number in m"]),
    "cxi-distance-zero-far-field": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/distance", 0.0)),
                                    ValueError, ["distance", "0.0", "> 0"]),
    "cxi-translation-in-nm": (lambda t: io.load_cxi(edited(t, TRANSLATION, scale=1e9)),
                              ValueError, ["geometry_1/translation", "off the object", "not m or nm"]),
    "cxi-translation-in-px-not-m": (lambda t: io.load_cxi(external(t, np.full((5, 3), 25.0) * np.arange(5)[:, None])),
                                    ValueError, ["translation", "spans", "expected at most 65536 px",
                                                 "translation in m expected"]),
    "cxi-translation-wrong-shape": (lambda t: io.load_cxi(edited(t, TRANSLATION, np.zeros((5, 2)))),
                                    ValueError, ["translation", "(5, 2)", "expected shape (5, 3)"]),
    "cxi-mask-shape-mismatch": (lambda t: io.load_cxi(edited(t, f"{DETECTOR}/mask", np.zeros((12, 16), np.uint32))),
                                ValueError, ["detector_1/mask", "(12, 16)", "expected shape (16, 12)"]),
    "cxi-zero-probe": (lambda t: io.load_cxi(edited(t, f"{SOURCE}/illumination", np.zeros((1, *PATTERN), "c8"))),
                       ValueError, ["source_1/illumination", "every value is 0", "non-zero"]),
    "cxi-truncated": (lambda t: io.load_cxi(truncated(t)),
                      ValueError, ["data.cxi", "truncated", "HDF5"]),
    "cxi-random-bytes": (lambda t: io.load_cxi(random_bytes(t)),
                         ValueError, ["random.cxi", "cannot be opened as HDF5", "not HDF5"]),
    "cxi-missing-file": (lambda t: io.load_cxi(t / "absent.cxi"),
                         FileNotFoundError, ["absent.cxi", "no such file"]),
    # ---- dataset specs (TOML)
    "spec-energy-negative": (lambda t: spec_from_toml(spec_text("energy_kev = 6.2", "energy_kev = -6.2")),
                             ValueError, ["geometry.energy_kev", "-6.2", "> 0 keV"]),
    "spec-energy-zero": (lambda t: spec_from_toml(spec_text("energy_kev = 6.2", "energy_kev = 0")),
                         ValueError, ["geometry.energy_kev", "= 0.0", "> 0 keV"]),
    "spec-energy-infinite": (lambda t: spec_from_toml(spec_text("energy_kev = 6.2", "energy_kev = inf")),
                             ValueError, ["geometry.energy_kev", "inf", "finite photon energy > 0 keV"]),
    "spec-distance-negative": (lambda t: spec_from_toml(spec_text("distance_m = 7.0", "distance_m = -7.0")),
                               ValueError, ["geometry.distance_m", "-7.0", "> 0 m"]),
    "spec-distance-zero-far-field": (lambda t: spec_from_toml(spec_text("distance_m = 7.0", "distance_m = 0.0")),
                                     ValueError, ["geometry.distance_m", "0.0", "> 0 m"]),
    "spec-unknown-key": (lambda t: spec_from_toml("colour = 1\n" + PTYCHO_TOML),
                         ValueError, ["colour", "unknown key", "expected one of"]),
    "spec-unknown-section-key": (lambda t: spec_from_toml(spec_text("energy_kev = 6.2", "energy_kev = 6.2\nenergy=6")),
                                 ValueError, ["geometry.energy", "unknown key", "expected one of"]),
    "spec-wrong-type": (lambda t: spec_from_toml(spec_text("energy_kev = 6.2", 'energy_kev = "6.2"')),
                        TypeError, ["geometry.energy_kev", "'6.2'", "must be a number"]),
    "spec-missing-key": (lambda t: spec_from_toml(spec_text("pattern_px = 64\n", "")),
                         TypeError, ["pattern_px", "missing", "required"]),
    "spec-nan-photons": (lambda t: spec_from_toml(spec_text("photons_per_frame = 1e6", "photons_per_frame = nan")),
                         ValueError, ["noise.photons_per_frame", "nan", "finite number > 0"]),
    "spec-not-toml": (lambda t: spec_from_toml("energy_kev = = 3"),
                      ValueError, ["spec", "not valid TOML", "line 1"]),
    "spec-missing-file": (lambda t: load_spec(t / "absent.toml"),
                          ValueError, ["absent.toml", "does not exist", "spec file"]),
    # ---- solver entry
    "unknown-solver": (lambda t: solver_config("nope"),
                       ValueError, ["solver", "'nope'", "expected one of", "epie"]),
    "unknown-solver-option": (lambda t: solver_config("hio", {"itr": 3}),
                              ValueError, ["option.itr", "unknown key", "expected one of", "iterations"]),
    "solver-option-bad-value": (lambda t: solver_config("ad-cdi", {"learning_rate": -1.0}),
                                ValueError, ["learning_rate", "-1.0", "> 0"]),
    "solver-option-wrong-type": (lambda t: solver_config("hio", {"iterations": "ten"}),
                                 TypeError, ["iterations", "'ten'", "must be an integer"]),
    "solver-wrong-kind": (lambda t: reconstruct(dataset(), "hio", progress=False),
                          ValueError, ["'hio'", "'ptycho-far'", "handles kinds ('cdi',)"]),
    "solver-entry-nan-intensities": (lambda t: _epie(with_value("intensities", (0, 0, 1, 1), np.nan)),
                                     ValueError, ["intensities", "nan at pixel (1, 1)", "expected finite"]),
    # ---- suites and the runner's pre-flight check (before anything is simulated)
    "empty-suite": (lambda t: load_suite(str(suite_file(t, 'name = "empty"\n'))),
                    ValueError, ["case", "[]", "at least one [[case]]"]),
    "suite-unknown-key": (lambda t: load_suite(str(suite_file(t, "colour = 1\n" + KIND_MISMATCH_SUITE))),
                          ValueError, ["suite-bad.toml", "colour", "expected keys name"]),
    "suite-not-found": (lambda t: load_suite("no-such-suite"),
                        ValueError, ["'no-such-suite'", "not found", "expected a file or one of", "micro"]),
    "suite-solver-wrong-kind": (lambda t: run_suite_file(t, KIND_MISMATCH_SUITE),
                                ValueError, ["solver = 'hio'", "kind 'ptycho-far'", "expected a solver for that kind"]),
    "suite-larger-than-memory": (lambda t: run_suite_file(t, HUGE_SUITE),
                                 runner.SuiteTooLargeError, ["case 'huge-fermat'", "977 GiB", "(1, 1000000, 512, 512)",
                                                             "expected a smaller case"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_input_is_refused_naming_field_value_and_expectation(tmp_path, kind):
    call, exc_type, needles = BAD_INPUT[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(exc_type) as info:
            call(tmp_path)
    message = str(info.value)
    assert isinstance(info.value, (ValueError, TypeError, OSError))
    for needle in needles:
        assert needle in message, f"{kind}: {needle!r} not in {message!r}"
    assert "\n" not in message.strip() or kind == "spec-not-toml"


def test_table_covers_at_least_twenty_kinds():
    assert len(BAD_INPUT) >= 20


# --------------------------------------------------------------------- details of some kinds

def test_huge_suite_is_refused_instantly_without_simulating(tmp_path):
    start = time.perf_counter()
    with pytest.raises(runner.SuiteTooLargeError):
        run_suite_file(tmp_path, HUGE_SUITE)
    assert time.perf_counter() - start < 5.0
    assert not list((tmp_path / "out" / "datasets").glob("*"))  # nothing simulated or written


def test_memory_check_counts_local_workers():
    suite = load_suite("micro")
    need = max(runner.estimate_dataset_bytes(t.spec) for t in suite.tasks())
    runner.check_memory(suite.tasks(), concurrent=2, available=2 * need)
    with pytest.raises(runner.SuiteTooLargeError, match=r"x 3 workers.*fewer workers"):
        runner.check_memory(suite.tasks(), concurrent=3, available=2 * need)
    spec = load_suite("micro").cases[1].spec  # quick-ptycho-far: 6 x 6 raster of 64 x 64 patterns
    assert runner.estimate_dataset_bytes(spec) >= 36 * 64 * 64 * 4


def test_translation_in_px_fails_fast_without_allocating(tmp_path):
    path = external(tmp_path, np.full((5, 3), 25.0) * np.arange(5)[:, None])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="translation in m expected"):
            io.load_cxi(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # the object it implies would be > 10^9 px on a side


def test_spec_positions_in_wrong_unit_fail_before_the_heavy_simulation():
    from cdibench.simulation import simulate

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"positions_px.*outside the object.*expected col positions in \[0, 48\]"):
        simulate(spec_from_toml(spec_text("step_px = 8.0", "step_px = 8000.0")), progress=False)
    assert time.perf_counter() - start < 5.0


def test_translation_stored_as_3_by_n_is_read_as_its_transpose(tmp_path):
    ds = dataset()
    path = saved(tmp_path, ds)
    with h5py.File(path, "r+") as f:
        t = f[TRANSLATION][()]
        del f[TRANSLATION]
        f[TRANSLATION] = t.T.copy()
    with pytest.warns(UserWarning, match=r"stored as \(3, 5\); read as its transpose"):
        back = io.load_cxi(path)
    np.testing.assert_allclose(back.positions_px, ds.positions_px, atol=1e-6)


# --------------------------------------------------------------------- command line

def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "cdibench.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["corrupt-file", "huge-suite"])
def test_cli_subprocess_prints_one_line_and_exits_nonzero(tmp_path, case):
    if case == "corrupt-file":
        proc = _cli("inspect", str(random_bytes(tmp_path)), cwd=tmp_path)
        needle = "cannot be opened as HDF5"
    else:
        proc = _cli("run", str(suite_file(tmp_path, HUGE_SUITE)), "-o", str(tmp_path / "out"), cwd=tmp_path)
        needle = "expected a smaller case"
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def _nan_file(tmp: Path) -> str:
    return str(edited(tmp, f"{DETECTOR}/data", np.full((5, *PATTERN), np.nan)))


@pytest.mark.parametrize("argv, needle", [
    (lambda t: ["simulate", str(_spec_file(t, "energy_kev = -6.2")), "-o", str(t / "x.cxi")], "geometry.energy_kev"),
    (lambda t: ["simulate", str(_spec_file(t, "colour = 1\nenergy_kev = 6.2")), "-o", str(t / "x.cxi")], "colour"),
    (lambda t: ["inspect", str(truncated(t))], "truncated"),
    (lambda t: ["reconstruct", _nan_file(t), "--solver", "epie", "-o", str(t / "r.h5")], "expected finite"),
    (lambda t: ["reconstruct", str(saved(t)), "--solver", "epie", "--option", "itr=3", "-o", str(t / "r.h5")], "itr"),
    (lambda t: ["reconstruct", str(saved(t)), "--solver", "hio", "-o", str(t / "r.h5")], "handles kinds"),
    (lambda t: ["run", str(suite_file(t, 'name = "empty"\n')), "-o", str(t / "out")], "at least one"),
    (lambda t: ["run", "micro", "--workers", "2", "-o", str(t / "out")], "--executor dask"),
    (lambda t: ["run", "micro", "--executor", "dask", "--scheduler", "localhost:1", "-o", str(t / "out")],
     "tcp://HOST:PORT"),
    (lambda t: ["run", "micro", "--executor", "dask", "--resources", "GPU", "-o", str(t / "out")], "NAME=AMOUNT"),
], ids=["spec-energy", "spec-unknown-key", "truncated", "nan-data", "unknown-option", "wrong-kind",
        "empty-suite", "workers-without-dask", "bad-scheduler", "bad-resources"])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, needle):
    args = argv(tmp_path)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def _spec_file(tmp: Path, new: str) -> Path:
    path = tmp / "spec.toml"
    path.write_text(spec_text("energy_kev = 6.2", new))
    return path


def test_cli_internal_error_is_one_line_too(tmp_path, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyError("deep inside a library")

    monkeypatch.setattr(io, "load_cxi", boom)
    monkeypatch.delenv("CDIBENCH_DEBUG", raising=False)
    assert main(["inspect", str(tmp_path / "x.cxi")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error: KeyError" in err and "CDIBENCH_DEBUG" in err


# --------------------------------------------------------------------- property tests

BASE_SPEC = tomllib.loads(PTYCHO_TOML)


def _paths(mapping: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for key, value in mapping.items():
        out.append(prefix + (key,))
        if isinstance(value, dict):
            out += _paths(value, prefix + (key,))
    return out


TOML_VALUES = st.one_of(
    st.text(max_size=5), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(-3, 3), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _mutate(mapping: dict, path: tuple, how: str, value) -> None:
    node = mapping
    for key in path[:-1]:
        node = node[key]
    key = path[-1]
    old = node[key]
    if how == "delete":
        del node[key]
    elif how == "value":
        node[key] = value
    elif how == "negate":
        node[key] = -old if isinstance(old, (int, float)) and not isinstance(old, bool) else -1
    elif how == "zero":
        node[key] = 0
    elif how == "huge":
        node[key] = 10**18 if isinstance(old, int) else 1e300


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_specs_raise_only_value_or_type_errors(data):
    mapping = copy.deepcopy(BASE_SPEC)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(mapping)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        how = data.draw(st.sampled_from(["delete", "value", "negate", "zero", "huge"]))
        _mutate(mapping, path, how, data.draw(TOML_VALUES) if how == "value" else None)
    try:
        spec = spec_from_mapping(mapping)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    # a spec that loads is usable by the runner's checks and survives its TOML round trip
    assert runner.estimate_dataset_bytes(spec) > 0
    assert spec_from_toml(spec.to_toml()).hash() == spec.hash()


@pytest.fixture(scope="module")
def valid_cxi(tmp_path_factory) -> Path:
    return saved(tmp_path_factory.mktemp("valid"))


def _h5_datasets(path: Path) -> list[str]:
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
    return sorted(names)


def _corrupt(path: str, data, how: str) -> None:
    size = os.path.getsize(path)
    if how == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(data.draw(st.integers(0, size - 1)))
        return
    if how == "flip-bytes":
        with open(path, "r+b") as fh:
            for _ in range(data.draw(st.integers(1, 16))):
                fh.seek(data.draw(st.integers(0, size - 1)))
                fh.write(data.draw(st.binary(min_size=1, max_size=8)))
        return
    name = data.draw(st.sampled_from(_h5_datasets(Path(path))))
    with h5py.File(path, "r+") as f:
        old = np.asarray(f[name][()])
        del f[name]
        if how == "string":
            f[name] = "not a number"
        elif how == "transpose":
            f[name] = old.T.copy() if old.ndim else old
        elif how == "scale":
            factor = data.draw(st.sampled_from([1e-9, 1e-3, -1.0, 1e3, 1e9, np.inf, 0.0]))
            f[name] = old * factor if old.dtype.kind in "iufc" else old
        elif how == "dtype":
            f[name] = old.astype(data.draw(st.sampled_from([np.int8, np.bool_, np.complex64, np.float16])),
                                 casting="unsafe") if old.dtype.kind in "biufc" else old


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), how=st.sampled_from(["truncate", "flip-bytes", "string", "transpose", "scale", "dtype"]))
def test_mutated_cxi_files_raise_only_value_or_type_errors(valid_cxi, data, how):
    with tempfile.TemporaryDirectory() as tmp:
        path = shutil.copy(valid_cxi, os.path.join(tmp, "m.cxi"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _corrupt(path, data, how)
            try:
                ds = io.load_cxi(path)
            except (ValueError, TypeError) as exc:
                assert str(exc)
                return
    assert np.isfinite(ds.intensities).all() and (ds.intensities >= 0).all()  # loaded: valid
