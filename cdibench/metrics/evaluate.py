"""Scores of a reconstruction against its dataset's ground truth, after the alignment each kind of
experiment needs (metrics.align): the common entry of solvers, runner and CLI."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cdibench import metrics
from cdibench.kinds import kind
from cdibench.metrics.crystal import score_crystal
from cdibench.physics import bragg
from cdibench.physics.ptychography import exit_waves


def illuminated_region(dataset, fraction: float = 0.1) -> np.ndarray:
    """Where the true probe's summed intensity over all (true) positions exceeds ``fraction`` of its
    maximum: bool (n_y, n_x). For kinds with a known support (CDI): the support."""
    if kind(dataset.kind).support:
        return dataset.support
    truth = dataset.truth
    ones = np.ones(dataset.object_shape, np.complex64)
    power = np.zeros(dataset.object_shape)
    window = truth.probe.shape[-2:]
    for p in truth.positions_px[0]:
        wave = exit_waves(ones, truth.probe, p[None])[0]
        r, c = np.floor(p).astype(int)
        power[r:r + window[0], c:c + window[1]] += (np.abs(wave) ** 2).sum(axis=0)
    return power > fraction * power.max()


def measured_volume(dataset) -> tuple[tuple[slice, slice, slice], np.ndarray]:
    """The part of the volume every angle's scan illuminates: (bounding box, bool mask in the box).

    Rows: those the scan lights (>= 30 % of the peak, angle 0). In the z-x plane: the disk about
    the rotation centre (n_z // 2, n_x // 2) inside the lit columns, which every angle sees.
    Full-field data light everything.
    """
    n_z, n_y, n_x = dataset.truth.delta.shape
    if not kind(dataset.kind).scanned:
        return (slice(None),) * 3, np.ones((n_z, n_y, n_x), bool)
    lit = illuminated_region(dataset, 0.3)
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    if dataset.n_angles == 1:
        box = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        return box, np.ones((n_z, len(rows), len(cols)), bool)
    radius = min(n_x // 2 - cols[0], cols[-1] - n_x // 2)
    z0, x0 = max(n_z // 2 - radius, 0), n_x // 2 - radius
    box = (slice(z0, n_z // 2 + radius + 1), slice(rows[0], rows[-1] + 1), slice(x0, n_x // 2 + radius + 1))
    z = np.arange(n_z)[box[0]] - n_z // 2
    x = np.arange(n_x)[box[2]] - n_x // 2
    disk = z[:, None] ** 2 + x[None, :] ** 2 <= radius**2
    return box, np.broadcast_to(disk[:, None, :], (len(z), len(rows), len(x)))


def fit_depth(volume: np.ndarray, n_z: int) -> np.ndarray:
    """Crop or zero-pad a float (n, n_y, n_x) volume along z to n_z slices, centre slice on centre
    slice (n // 2 -> n_z // 2), float32: FBP's n_x-deep volume, or an AD volume of ``n_slices``
    scored against a truth of another depth (same voxel size)."""
    if volume.shape[0] == n_z:
        return volume.astype(np.float32, copy=False)
    out = np.zeros((n_z,) + volume.shape[1:], np.float32)
    src0, dst0 = volume.shape[0] // 2, n_z // 2
    lo = min(src0, dst0)
    hi = min(volume.shape[0] - src0, n_z - dst0)
    out[dst0 - lo:dst0 + hi] = volume[src0 - lo:src0 + hi]
    return out


def volume_scores(estimate: np.ndarray, truth: np.ndarray, dataset) -> dict:
    """metrics.score_volume inside the measured volume; "_in" scores inside the sample there."""
    box, measured = measured_volume(dataset)
    est, tru = estimate[box], truth[box]
    sample = ndimage.binary_dilation(tru != 0, iterations=2) & measured
    return metrics.score_volume(np.where(measured, est, 0), np.where(measured, tru, 0), sample)


def volume_quantity(dataset) -> str:
    """The truth field a volume is scored on: "delta" (phase contrast), or "beta" for contact full-field
    tomography (no scan, distance 0), where the phase is invisible."""
    contact = not kind(dataset.kind).scanned and dataset.geometry.distance_m == 0
    return "beta" if contact else "delta"


def _volume_truth(dataset):
    name = volume_quantity(dataset)
    return name, getattr(dataset.truth, name)


def bragg_region(dataset, support_fraction: float = 0.5, lit_fraction: float = 0.1) -> np.ndarray:
    """Where a 'bragg' crystal is scored, bool (n_z, n_y, n_x): its support (|rho| >= half the
    maximum) where the true scan lights it (summed probe intensity >= 10 % of the maximum)."""
    truth = dataset.truth
    geometry = bragg.BraggGeometry(dataset.geometry.energy_kev, dataset.geometry.two_theta_rad,
                                   dataset.geometry.object_pixel_m)
    lit = bragg.illumination(truth.probe, truth.positions_px[0], truth.object.shape, geometry)
    amplitude = np.abs(truth.object)
    return (amplitude >= support_fraction * amplitude.max()) & (lit >= lit_fraction * lit.max())


def _crystal_metric(dataset):
    """Crystal scores (metrics.crystal) in :func:`bragg_region`, free translation along k_i."""
    region = bragg_region(dataset)
    direction = bragg.BraggGeometry(dataset.geometry.energy_kev, dataset.geometry.two_theta_rad,
                                    dataset.geometry.object_pixel_m).incident_hat

    def crystal(estimate):
        if estimate.get("object") is None or estimate["object"].shape != dataset.truth.object.shape:
            return {}
        scores = score_crystal(estimate["object"], dataset.truth.object, region, direction)
        return {k: scores[k] for k in ("nrmse", "rmse_phase_rad", "nrmse_amplitude",
                                       "rmse_phase_deramped_rad", "shift_px")}
    return crystal


def _object_metric(dataset):
    """Thin-object scores (metrics.score_complex) in :func:`illuminated_region`."""
    region = illuminated_region(dataset)
    twin = kind(dataset.kind).twin

    def thin(estimate):
        scores = metrics.score_complex(estimate["object"], dataset.truth.object, region, twin=twin, scale=not twin)
        return {k: scores[k] for k in ("nrmse", "ssim_phase", "ssim_amplitude")}
    return thin


def _volume_metric(dataset):
    """Volume scores (:func:`volume_scores`) of the :func:`volume_quantity`, fitted to the truth's depth."""
    name, truth = _volume_truth(dataset)

    def volume(estimate):
        if estimate.get(name) is None:
            return {}
        scores = volume_scores(fit_depth(estimate[name], len(truth)), truth, dataset)
        return {k: scores[k] for k in ("nrmse", "nrmse_in", "ssim", "ssim_in")}
    return volume


# Kind.scoring -> (dataset -> per-iteration metric function)
SCORING = {"object": _object_metric, "volume": _volume_metric, "crystal": _crystal_metric}


def flux_error_rms(estimate: np.ndarray, truth: np.ndarray) -> float:
    """RMS of recovered / true - 1 over the frames, the ratio's mean fixed to 1 first (the mean flux
    is degenerate with the object's overall intensity). estimate, truth: (n_angles, n_positions)."""
    ratio = np.asarray(estimate, np.float64) / truth
    return float(np.sqrt(np.mean((ratio / ratio.mean() - 1) ** 2)))


def position_error_rms_px(estimate: np.ndarray, truth: np.ndarray) -> float:
    """RMS per axis of refined - true positions, each angle's mean offset removed first (a common
    shift of an angle's scan is degenerate with the object's translation); the same measure as the
    simulator's ``position_jitter_rms_px``. estimate, truth: float (n_angles, n_positions, 2) px."""
    error = np.asarray(estimate, np.float64) - truth
    return float(np.sqrt(np.mean((error - error.mean(axis=1, keepdims=True)) ** 2)))


def metric_function(dataset):
    """estimate dict -> metrics dict, for per-iteration histories (None without ground truth); adds
    ``flux_error_rms`` where the truth has flux factors and the estimate a "flux_scale", and
    ``position_error_rms_px`` where the truth has positions and the estimate "positions_px"."""
    if dataset.truth is None:
        return None
    scores = SCORING[kind(dataset.kind).scoring](dataset)
    true_flux, true_positions = dataset.truth.flux_scale, dataset.truth.positions_px
    if true_flux is None and true_positions is None:
        return scores

    def with_errors(estimate):
        out = scores(estimate)
        if true_flux is not None and estimate.get("flux_scale") is not None:
            out["flux_error_rms"] = flux_error_rms(estimate["flux_scale"], true_flux)
        if true_positions is not None and estimate.get("positions_px") is not None:
            out["position_error_rms_px"] = position_error_rms_px(estimate["positions_px"], true_positions)
        return out
    return with_errors


def _object_resolution(dataset, obj) -> dict:
    """FRC resolution of the aligned thin object in the illuminated box."""
    region = illuminated_region(dataset)
    rows, cols = np.nonzero(region)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    twin = kind(dataset.kind).twin
    aligned, _ = metrics.align(obj, dataset.truth.object, region=region, twin=twin, scale=not twin)
    freq, curve, threshold = metrics.frc(aligned[box] * region[box], dataset.truth.object[box] * region[box])
    return dict(zip(("resolution_px", "resolution_m"),
                    metrics.resolution(freq, curve, threshold, dataset.geometry.object_pixel_m)))


def _volume_resolution(dataset, estimate: dict) -> dict:
    """FSC resolution of the scored volume quantity in the measured volume ({} without an estimate)."""
    name, truth = _volume_truth(dataset)
    if estimate.get(name) is None:
        return {}
    box, measured = measured_volume(dataset)
    freq, curve, threshold = metrics.fsc(np.where(measured, fit_depth(estimate[name], len(truth))[box], 0),
                                         np.where(measured, truth[box], 0))
    return dict(zip(("resolution_px", "resolution_m"),
                    metrics.resolution(freq, curve, threshold, dataset.geometry.object_pixel_m)))


def score(dataset, reconstruction) -> dict:
    """Final scores: the per-iteration metrics plus resolution (FRC in 2D, FSC in 3D, 1/2-bit); no
    resolution for a crystal (yet)."""
    fn = metric_function(dataset)
    if fn is None:
        return {}
    traits = kind(dataset.kind)
    estimate = {k: getattr(reconstruction, k) for k in traits.truth_fields + ("flux_scale", "positions_px")}
    out = dict(fn(estimate))
    if traits.scoring == "object" and reconstruction.object is not None:
        out.update(_object_resolution(dataset, reconstruction.object))
    elif traits.scoring == "volume":
        out.update(_volume_resolution(dataset, estimate))
    return out
