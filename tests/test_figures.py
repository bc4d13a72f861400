"""Paper figures: each figure function writes PNG + PDF and shows the numbers it claims; make_figures
turns a synthetic ``cdibench run`` folder (tiny datasets, fake reconstructions, records, histories)
into the expected files without tripping on failed records, torn files or missing reconstructions.

The datasets are small arrays built here with fixed seeds (not simulated): the figures only need
ground truth, a probe and positions. Estimates are the truth plus known damage (noise, blur, shift,
phase offset), so which solver should score higher is known in advance.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from cdibench import kinds, metrics, units
from cdibench.data.cxi import save_cxi
from cdibench.data.dataset import Dataset, Geometry, GroundTruth
from cdibench.data.reconstruction import Reconstruction, save_reconstruction
from cdibench.figures import (
    fig_convergence,
    fig_object_panels,
    fig_resolution_curves,
    fig_speed_bars,
    fig_volume_panels,
    make_figures,
    phase_display,
)
from cdibench.metrics import evaluate

ENERGY_KEV = 0.954
VOXEL_M = 1e-9
PATTERN = 8
VOLUME = (16, 12, 20)  # (n_z, n_y, n_x): non-cubic, so an axis swap cannot pass unnoticed
OBJECT = (24, 24)


def soft_disk(n: int, radius: float) -> np.ndarray:
    y, x = np.indices((n, n)) - (n - 1) / 2
    return np.clip(radius + 0.5 - np.hypot(y, x), 0, 1).astype(np.complex64)[None]


def foam(seed: int = 0) -> np.ndarray:
    """delta float32 VOLUME: a cylinder along y (radius 7 px in z-x) holding denser spheres."""
    rng = np.random.default_rng(seed)
    n_z, n_y, n_x = VOLUME
    z, y, x = np.indices(VOLUME).astype(float)
    delta = np.where(np.hypot(z - n_z // 2, x - n_x // 2) <= 7, 2e-5, 0.0)
    for _ in range(12):
        c = rng.uniform((n_z // 2 - 5, 1, n_x // 2 - 5), (n_z // 2 + 5, n_y - 1, n_x // 2 + 5))
        r = rng.uniform(1.0, 2.2)
        delta[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r**2] = 1e-4
    return delta.astype(np.float32)


def thin_object(seed: int = 3) -> np.ndarray:
    """complex64 OBJECT: smoothed random texture, phase 0..1.2 rad and amplitude 0.7..1 (structured
    enough that registration has one clear answer)."""
    rng = np.random.default_rng(seed)
    textures = [ndimage.gaussian_filter(rng.standard_normal(OBJECT), 1.5) for _ in range(2)]
    phase, amplitude = ((t - t.min()) / np.ptp(t) for t in textures)
    return ((0.7 + 0.3 * amplitude) * np.exp(1.2j * phase)).astype(np.complex64)


def make_dataset(kind: str, seed: int = 0) -> Dataset:
    """A valid tiny Dataset of kind "multislice-tomo" (4 angles, 2x3 raster) or "ptycho-far" (3x3)."""
    rng = np.random.default_rng(seed)
    tomo = kinds.kind(kind).tomography
    if tomo:
        object_shape = VOLUME[1:]
        grid = np.stack(np.meshgrid([0, 4], [0, 6, 12], indexing="ij"), -1).reshape(-1, 2)
        n_angles = 4
        delta = foam(seed)
        obj = np.exp(-1j * units.wavenumber_per_m(ENERGY_KEV) * VOXEL_M * delta.sum(0)).astype(np.complex64)
    else:
        object_shape = OBJECT
        grid = np.stack(np.meshgrid([0, 8, 16], [0, 8, 16], indexing="ij"), -1).reshape(-1, 2)
        n_angles = 1
        delta = np.zeros((1, *OBJECT), np.float32)
        obj = thin_object()
    positions = np.broadcast_to(grid.astype(float), (n_angles, *grid.shape)).copy()
    detector_m = float(units.wavelength_m(ENERGY_KEV)) * 0.05 / (PATTERN * VOXEL_M)
    probe = soft_disk(PATTERN, 3.5)
    shape4 = (n_angles, len(grid), PATTERN, PATTERN)
    truth = GroundTruth(delta, delta / 10, VOXEL_M, obj, probe, positions)
    return Dataset(kind=kind, intensities=rng.random(shape4, dtype=np.float32) * 100, positions_px=positions,
                   probe_guess=probe, mask=np.zeros((PATTERN, PATTERN), np.uint32),
                   geometry=Geometry(ENERGY_KEV, 0.05, detector_m, VOXEL_M, "far"),
                   angles_rad=np.linspace(0, np.pi, n_angles, endpoint=False), object_shape=object_shape,
                   truth=truth, seed=seed)


@pytest.fixture(scope="module")
def tomo():
    return make_dataset("multislice-tomo")


@pytest.fixture(scope="module")
def thin():
    return make_dataset("ptycho-far")


def damaged_volumes(truth: np.ndarray, seed: int = 1) -> dict[str, np.ndarray]:
    """'good': truth + 3 % noise; 'blurred': smoothed along z (as a depth-of-focus-limited pipeline)."""
    rng = np.random.default_rng(seed)
    good = truth + 0.03 * truth.max() * rng.standard_normal(truth.shape)
    blurred = ndimage.gaussian_filter(truth, (2.5, 0.7, 0.7))
    return {"good": good.astype(np.float32), "blurred": blurred.astype(np.float32)}


def damaged_objects(truth: np.ndarray, seed: int = 2) -> dict[str, np.ndarray]:
    """'good': truth shifted by (1, -1) px, global phase +0.7 rad, 2 % noise; 'noisy': 15 % noise."""
    rng = np.random.default_rng(seed)
    noise = (rng.standard_normal(truth.shape) + 1j * rng.standard_normal(truth.shape)) / np.sqrt(2)
    good = np.roll(truth, (1, -1), axis=(0, 1)) * np.exp(0.7j) + 0.02 * noise
    return {"good": good.astype(np.complex64), "noisy": (truth + 0.15 * noise).astype(np.complex64)}


def titles(fig) -> list[str]:
    return [ax.get_title() for sub in fig.subfigs for ax in sub.axes] if fig.subfigs else \
        [ax.get_title() for ax in fig.axes]


def assert_written(paths, stem=None):
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    if stem is not None:
        assert paths[0].with_suffix("") == stem
    assert not list(paths[0].parent.glob(".*")), "temp files left behind"


# ------------------------------------------------------------------------------ figure functions

def test_volume_panels_show_the_volume_scores_and_one_scale_per_row(tmp_path, tomo):
    estimates = damaged_volumes(tomo.truth.delta)
    recs = {label: Reconstruction(solver=label, config={}, delta=v, beta=v / 10) for label, v in estimates.items()}
    control = {"good": recs["good"]}  # the control row has one solver: the other column says so
    out = fig_volume_panels([("thick", tomo, recs), ("control", tomo, control)], tmp_path / "vol",
                            views=("xz", "yx"))
    assert_written(out.paths, tmp_path / "vol")
    for label, v in estimates.items():
        expected = evaluate.volume_scores(v, tomo.truth.delta, tomo)
        assert out.values["thick"][label]["ssim_in"] == pytest.approx(expected["ssim_in"])
        assert any(f"{expected['ssim_in']:.3f}" in t and label in t for t in titles(out.figure.subfigs[0]))
    assert out.values["thick"]["good"]["ssim_in"] > out.values["thick"]["blurred"]["ssim_in"] + 0.1
    assert any("not run" in t.get_text() for ax in out.figure.subfigs[1].axes for t in ax.texts)
    box, measured = evaluate.measured_volume(tomo)
    for sub in out.figure.subfigs:  # one colour scale per row, spanning the truth's shown values
        images = [im for ax in sub.axes for im in ax.images]
        assert len({im.get_clim() for im in images}) == 1
        truth_xz = images[0].get_array()
        n_z, _, n_x = VOLUME
        assert truth_xz.shape == (len(range(n_z)[box[0]]), len(range(n_x)[box[2]]))  # rows z, cols x
        assert images[0].get_clim()[1] <= tomo.truth.delta.max() + 1e-12
        assert sub.axes[0].get_ylabel().startswith("z")


def test_volume_panels_accept_plain_arrays_missing_and_mismatched_estimates(tmp_path, tomo):
    truth = tomo.truth.delta
    estimates = {"good": damaged_volumes(truth)["good"], "wrong shape": truth[:-1],
                 "2D solver": Reconstruction(solver="epie", config={}, object=tomo.truth.object)}
    out = fig_volume_panels([("arrays", truth, estimates)], tmp_path / "arrays", cmap="gray")
    assert_written(out.paths)
    expected = metrics.score_volume(estimates["good"], truth)["ssim_in"]
    assert out.values["arrays"]["good"]["ssim_in"] == pytest.approx(expected)
    assert set(out.values["arrays"]) == {"good"}
    texts = [t.get_text() for ax in out.figure.subfigs[0].axes for t in ax.texts]
    assert any("no delta" in t for t in texts) and any("shape" in t for t in texts)
    with pytest.raises(ValueError, match="views"):
        fig_volume_panels([("arrays", truth, estimates)], tmp_path / "bad", views=("xy",))


def test_contact_fullfield_volumes_show_beta_over_the_whole_volume(tmp_path, tomo):
    """Contact full-field tomography sees no phase: the panels show and score beta, as evaluate does."""
    n_z, n_y, n_x = VOLUME
    truth = tomo.truth
    ds = Dataset(kind="fullfield-tomo", intensities=np.ones((3, 1, n_y, n_x), np.float32),
                 positions_px=np.zeros((3, 1, 2)), probe_guess=np.ones((1, n_y, n_x), np.complex64),
                 mask=np.zeros((n_y, n_x), np.uint32), geometry=Geometry(ENERGY_KEV, 0.0, VOXEL_M, VOXEL_M, "near"),
                 angles_rad=np.linspace(0, np.pi, 3, endpoint=False), object_shape=(n_y, n_x),
                 truth=GroundTruth(truth.delta, truth.beta, VOXEL_M, truth.object[:n_y, :n_x],
                                   np.ones((1, n_y, n_x), np.complex64), np.zeros((3, 1, 2))))
    beta = damaged_volumes(truth.beta)["good"]
    rec = Reconstruction(solver="fbp", config={}, delta=np.zeros_like(beta), beta=beta)
    out = fig_volume_panels([("contact", ds, {"FBP": rec})], tmp_path / "ff")
    assert out.values["contact"]["FBP"]["ssim_in"] == pytest.approx(
        evaluate.volume_scores(beta, truth.beta, ds)["ssim_in"])
    colorbar_labels = [ax.get_ylabel() for ax in out.figure.subfigs[0].axes]
    assert "\u03b2" in colorbar_labels
    assert out.figure.subfigs[0].axes[0].images[0].get_array().shape == (n_z, n_x)  # whole x-z slice


def test_object_panels_align_then_show_phase_in_twilight(tmp_path, thin):
    estimates = damaged_objects(thin.truth.object)
    out = fig_object_panels([("ptycho", thin, estimates)], tmp_path / "obj")
    assert_written(out.paths)
    region = evaluate.illuminated_region(thin)
    for label, estimate in estimates.items():
        expected = metrics.score_complex(estimate, thin.truth.object, region, scale=True)
        got = out.values["ptycho"][label]
        assert got["ssim_phase"] == pytest.approx(expected["ssim_phase"])
        all_titles = titles(out.figure.subfigs[0])
        assert any(f"{expected['ssim_phase']:.3f}" in t for t in all_titles)
        assert any(f"{expected['ssim_amplitude']:.3f}" in t for t in all_titles)
    assert out.values["ptycho"]["good"]["shift_y_px"] == pytest.approx(-1, abs=0.05)
    axes = out.figure.subfigs[0].axes
    phase_images = [ax.images[0] for ax in axes[:3]]  # first row: truth, good, noisy
    assert all(im.get_cmap().name.startswith("twilight") for im in phase_images)
    assert axes[3].images[0].get_cmap().name.startswith("gray")
    truth_phase, good_phase = (np.ma.filled(im.get_array(), np.nan) for im in phase_images[:2])
    inside = np.isfinite(truth_phase)
    # aligned (shift + global phase undone): displayed phase within noise of the truth (2 % noise
    # -> ~0.03 rad rms; the border pixels rolled in by the 1 px shift are outside the region)
    assert np.sqrt(np.mean((good_phase - truth_phase)[inside] ** 2)) < 0.08


def test_phase_display_wraps_wide_phases_and_keeps_narrow_ends_distinct():
    norm, cmap, wrap = phase_display(np.array([-3.0, 3.0]))
    assert wrap and norm.vmax - norm.vmin == pytest.approx(2 * np.pi) and cmap.name == "twilight"
    norm, cmap, wrap = phase_display(np.array([0.0, 0.5, np.nan]))
    assert not wrap and norm.vmax - norm.vmin == pytest.approx(0.6)
    assert not np.allclose(cmap(0.0), cmap(1.0))  # the two ends of the window differ in colour


def history(n: int, seconds_per_it: float, rate: float, every: int = 5) -> pd.DataFrame:
    it = np.arange(1, n + 1, dtype=float)
    nrmse = np.where(it % every == 0, np.exp(-rate * it), np.nan)
    return pd.DataFrame({"iteration": it, "loss": np.exp(-rate * it) ** 2, "wall_s": it * seconds_per_it,
                         "nrmse": nrmse, "ssim_in": 1 - nrmse})


def test_convergence_plots_time_and_iteration_with_log_nrmse(tmp_path):
    histories = {"AD": history(40, 0.01, 0.1), "ePIE": [history(30, 0.5, 0.03), history(30, 0.6, 0.03)]}
    out = fig_convergence(histories, ["nrmse", "ssim_in"], tmp_path / "conv", title="case")
    assert_written(out.paths)
    axes = np.array(out.figure.axes[:4]).reshape(2, 2)
    assert axes[0, 0].get_yscale() == "log" and axes[1, 0].get_yscale() == "linear"
    assert axes[0, 0].get_xscale() == "log"  # 0.4 s vs 15 s final wall time: log time axis
    assert axes[0, 0].get_xlabel() == "wall time (s)" and axes[0, 1].get_xlabel() == "iteration"
    assert len(axes[0, 0].lines) == 3  # one per run (two ePIE seeds)
    assert out.values["nrmse"]["AD"] == pytest.approx(np.exp(-4.0))
    legend = out.figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["AD", "ePIE"]


def test_speed_bars_group_by_device_and_skip_failed(tmp_path):
    df = pd.DataFrame([
        {"case": "c1", "label": "AD", "device": "GPU", "s_per_iteration": 0.01, "status": "ok"},
        {"case": "c1", "label": "AD", "device": "GPU", "s_per_iteration": 0.03, "status": "ok"},
        {"case": "c1", "label": "AD", "device": "CPU", "s_per_iteration": 0.2, "status": "ok"},
        {"case": "c1", "label": "ePIE", "device": "CPU", "s_per_iteration": 0.1, "status": "ok"},
        {"case": "c1", "label": "HIO", "device": "CPU", "s_per_iteration": 99.0, "status": "failed"},
        {"case": "c2", "label": "AD", "device": None, "s_per_iteration": 0.5, "status": "ok"},
    ])
    out = fig_speed_bars(df, tmp_path / "speed")
    assert_written(out.paths)
    assert out.values[("c1", "AD", "GPU")] == pytest.approx(0.02)  # median of the seeds
    assert ("c1", "HIO", "CPU") not in out.values and ("c2", "AD", "unknown") in out.values
    ax = out.figure.axes[0]
    assert ax.get_yscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["AD", "ePIE"]
    with pytest.raises(ValueError, match="s_per_iteration"):
        fig_speed_bars(df.drop(columns="s_per_iteration"), tmp_path / "bad")


def test_resolution_curves_report_the_half_bit_crossing(tmp_path, thin):
    truth = thin.truth.object
    estimates = damaged_objects(truth)
    curves = {label: metrics.frc(metrics.align(e, truth, scale=True)[0], truth) for label, e in estimates.items()}
    out = fig_resolution_curves(curves, tmp_path / "frc", pixel_size_m=VOXEL_M)
    assert_written(out.paths)
    for label, (freq, curve, threshold) in curves.items():
        assert out.values[label] == pytest.approx(metrics.resolution(freq, curve, threshold, VOXEL_M))
    labels = [t.get_text() for t in out.figure.axes[0].get_legend().get_texts()]
    assert "1/2-bit threshold" in labels and any(t.startswith("good (") and "nm" in t for t in labels)


def test_figures_leave_rcparams_and_pyplot_alone(tmp_path):
    import matplotlib

    before = dict(matplotlib.rcParams)
    had_pyplot = "matplotlib.pyplot" in sys.modules
    fig_convergence({"a": history(10, 0.1, 0.1)}, "nrmse", tmp_path / "c")
    assert dict(matplotlib.rcParams) == before
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules


# ------------------------------------------------------------------------------ make_figures

def write_run(root, case, kind, dataset_path, label, seed, rec=None, hist=None, status="ok", device="CPU"):
    """One (case, solver, seed) of a fake ``cdibench run`` folder."""
    key = f"{case}--{label.replace(' ', '_')}--{seed}"
    record = {"key": key, "suite": "test", "case": case, "kind": kind, "solver": label.lower(),
              "label": label, "config": {}, "seed": seed, "status": status, "error": "",
              "iterations": 10, "wall_s": 1.0, "s_per_iteration": 0.1 if label == "AD" else 0.4,
              "peak_memory_mb": 10.0, "metrics": {}, "time_to_target": {}, "device": device,
              "provenance": {}, "dataset_path": str(dataset_path)}
    for sub in ("records", "histories", "reconstructions"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "records" / f"{key}.json").write_text(json.dumps(record))
    if rec is not None:
        save_reconstruction(rec, root / "reconstructions" / f"{key}.h5", dataset_path=str(dataset_path))
    if hist is not None:
        hist.to_csv(root / "histories" / f"{key}.csv", index=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory, tomo, thin):
    """A results folder: a thick tomo case and its -control, a thin case, a failed run, a run whose
    reconstruction is missing, a torn record file, and a case with no dataset file."""
    root = tmp_path_factory.mktemp("results")
    (root / "datasets").mkdir()
    paths = {name: save_cxi(ds, root / "datasets" / f"{name}.cxi")
             for name, ds in (("tomo", tomo), ("thin", thin))}
    volumes = damaged_volumes(tomo.truth.delta)
    for case in ("tomo-thick", "tomo-thick-control"):
        for label, volume in (("AD", volumes["good"]), ("FBP", volumes["blurred"])):
            for seed in (0, 1):
                rec = Reconstruction(solver=label, config={}, delta=volume, beta=volume / 10)
                write_run(root, case, "multislice-tomo", paths["tomo"], label, seed, rec,
                          history(20, 0.05 if label == "AD" else 0.2, 0.1 + 0.01 * seed))
    objects = damaged_objects(thin.truth.object)
    for label, obj in (("AD", objects["good"]), ("ePIE", objects["noisy"])):
        write_run(root, "thin", "ptycho-far", paths["thin"], label, 0,
                  Reconstruction(solver=label, config={}, object=obj), history(20, 0.1, 0.1), device="GPU")
    write_run(root, "thin", "ptycho-far", paths["thin"], "HIO", 0, status="failed")
    write_run(root, "thin", "ptycho-far", paths["thin"], "DM", 0, hist=history(20, 0.1, 0.05))  # no .h5
    write_run(root, "gone", "ptycho-far", root / "datasets" / "missing.cxi", "AD", 0,
              Reconstruction(solver="AD", config={}, object=objects["good"]), history(5, 0.1, 0.1))
    (root / "records" / "torn.json").write_text('{"key": "torn", "cas')
    return root


def test_make_figures_writes_every_figure_and_skips_what_is_broken(results):
    with pytest.warns(UserWarning) as caught:
        paths = make_figures(results)
    messages = " ".join(str(w.message) for w in caught)
    assert "torn.json" in messages and "missing.cxi" in messages
    names = sorted(p.name for p in paths)
    stems = {"convergence-tomo-thick", "convergence-tomo-thick-control", "convergence-thin", "speed",
             "fsc-tomo-thick", "fsc-tomo-thick-control", "frc-thin", "objects-thin", "volumes-tomo-thick"}
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "pdf"))
    for path in paths:
        assert path.parent == results / "figures" and path.stat().st_size > 1000
    assert not (results / "figures" / "volumes-tomo-thick-control.png").exists()  # a row, not a figure
    assert not list((results / "figures").glob(".*"))


def test_make_figures_volume_rows_are_thick_then_control(results, tomo):
    from cdibench.figures.results import (
        _first_seed,
        _Store,
        _volume_panels,
        load_records,
    )

    records = [r for r in load_records_quiet(results, load_records) if r.get("status") == "ok"]
    by_case = {c: _first_seed([r for r in records if r["case"] == c]) for c in ("tomo-thick", "tomo-thick-control")}
    case_kinds = dict.fromkeys(by_case, "multislice-tomo")
    out_dir = results / "figures-rows"
    paths = _volume_panels(by_case, case_kinds, _Store(results), out_dir)
    assert [p.name for p in paths] == ["volumes-tomo-thick.png", "volumes-tomo-thick.pdf"]


def load_records_quiet(results, load_records):
    with pytest.warns(UserWarning, match="torn"):
        return load_records(results)


def test_make_figures_with_only_failed_records_writes_nothing(tmp_path, thin):
    write_run(tmp_path, "thin", "ptycho-far", tmp_path / "x.cxi", "HIO", 0, status="failed")
    with pytest.warns(UserWarning, match="no record with status ok"):
        assert make_figures(tmp_path) == []
