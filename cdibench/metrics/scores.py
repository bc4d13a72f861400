"""Scores against ground truth: NRMSE, SSIM, PSNR, and the per-case bundles for 2D objects and 3D volumes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.registration import phase_cross_correlation

from cdibench.metrics._checks import image_pair, region_mask
from cdibench.metrics.alignment import align

SSIM_WINDOW = 7  # scikit-image's default; shrunk (odd, >= 3) for arrays with a shorter axis


def nrmse(estimate, truth, region=None) -> float:
    """``||truth - estimate|| / ||truth||`` over ``region`` (2-norms; complex allowed).

    estimate, truth: arrays of equal shape, real or complex, any dimensionality; region: optional bool
    mask of that shape. No alignment here: call :func:`align` first where the ambiguities matter.
    """
    estimate, truth = image_pair(estimate, truth)
    region = region_mask(region, truth.shape)
    reference = np.sum(np.abs(truth[region]) ** 2)
    if reference == 0:
        raise ValueError("truth is zero everywhere inside region: NRMSE undefined")
    return float(np.sqrt(np.sum(np.abs(truth[region] - estimate[region]) ** 2) / reference))


def default_data_range(truth, estimate, region=None) -> float:
    """Dynamic range for SSIM/PSNR: ``ptp(truth)`` in the region; if truth is constant there, the
    ``ptp`` of truth and estimate together; if that is 0 too (both constant), 1.0."""
    mask = np.ones(truth.shape, bool) if region is None else region
    span = float(np.ptp(truth[mask]))
    if span == 0:
        span = float(np.ptp(np.concatenate([truth[mask].ravel(), estimate[mask].ravel()])))
    return span if span > 0 else 1.0


def ssim(estimate, truth, region=None, data_range=None) -> float:
    """Structural similarity (``skimage.metrics.structural_similarity``) of real 2D or 3D images.

    estimate, truth: real (n_y, n_x) or (n_z, n_y, n_x), equal shapes; data_range: float > 0, default
    :func:`default_data_range`. Uniform 7-pixel window (smaller odd window when an axis is shorter
    than 7; at least 3). Without ``region``: scikit-image's mean SSIM (borders cropped by half a
    window). With ``region`` (bool, same shape): the mean of the full SSIM map over the region pixels.
    """
    estimate, truth = image_pair(estimate, truth, ndim=(2, 3), real=True)
    mask = None if region is None else region_mask(region, truth.shape)
    if data_range is None:
        data_range = default_data_range(truth, estimate, mask)
    elif not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}")
    window = min(SSIM_WINDOW, min(truth.shape) - (1 - min(truth.shape) % 2))
    if window < 3:
        raise ValueError(f"truth shape {truth.shape} is too small for SSIM: every axis needs >= 3 pixels")
    kwargs = dict(data_range=float(data_range), win_size=window)
    if mask is None:
        return float(structural_similarity(truth.astype(np.float64), estimate.astype(np.float64), **kwargs))
    _, ssim_map = structural_similarity(truth.astype(np.float64), estimate.astype(np.float64), full=True, **kwargs)
    return float(np.mean(ssim_map[mask]))


def psnr(estimate, truth, data_range=None) -> float:
    """Peak signal-to-noise ratio [dB] (``skimage.metrics.peak_signal_noise_ratio``) of real arrays.

    estimate, truth: real, equal shapes (any dimensionality; pass ``x[region]`` to restrict);
    data_range: default :func:`default_data_range`. Identical inputs give ``inf``.
    """
    estimate, truth = image_pair(estimate, truth, real=True)
    if data_range is None:
        data_range = default_data_range(truth, estimate)
    elif not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}")
    if np.array_equal(estimate, truth):
        return float("inf")
    return float(peak_signal_noise_ratio(truth.astype(np.float64), estimate.astype(np.float64),
                                         data_range=float(data_range)))


def score_complex(estimate, truth, region=None, twin: bool = False, *, shift: bool = True, ramp: bool = True,
                  scale: bool = False, upsample: int = 20) -> dict:
    """Align (:func:`align`) then score a complex 2D object: one flat dict for a result record.

    estimate, truth: complex (n_y, n_x); region: optional bool (n_y, n_x). Keys: "nrmse" (complex
    object, in the region), "ssim_phase", "ssim_amplitude" (region-averaged SSIM maps), "psnr_phase",
    "psnr_amplitude" (region pixels), and the alignment: "twin", "shift_y_px", "shift_x_px",
    "ramp_offset_rad", "ramp_y_rad_per_px", "ramp_x_rad_per_px", "phase_rad", "scale". The estimated
    phase is taken relative to the truth's, ``angle(truth) + angle(aligned * conj(truth))``, so phase
    wraps of the object do not count as errors.
    """
    aligned, info = align(estimate, truth, region=region, shift=shift, ramp=ramp, twin=twin, scale=scale,
                          upsample=upsample)
    truth = np.asarray(truth)
    mask = region_mask(region, truth.shape)
    phase_truth = np.angle(truth)
    relative = np.angle(aligned * np.conj(np.where(truth == 0, 1, truth)))  # no angle(-0) = pi at truth 0
    phase_estimate = np.where(mask, phase_truth + np.where(truth == 0, relative, 0) + np.where(truth != 0, relative, 0),
                              phase_truth)
    amplitude_truth = np.abs(truth)
    amplitude_estimate = np.where(mask, np.abs(aligned), amplitude_truth)
    return {
        "nrmse": nrmse(aligned, truth, mask),
        "ssim_phase": ssim(phase_estimate, phase_truth, mask),
        "ssim_amplitude": ssim(amplitude_estimate, amplitude_truth, mask),
        "psnr_phase": psnr(phase_estimate[mask], phase_truth[mask]),
        "psnr_amplitude": psnr(amplitude_estimate[mask], amplitude_truth[mask]),
        "twin": info["twin"],
        "shift_y_px": info["shift_px"][0], "shift_x_px": info["shift_px"][1],
        "ramp_offset_rad": info["ramp_rad"][0], "ramp_y_rad_per_px": info["ramp_rad"][1],
        "ramp_x_rad_per_px": info["ramp_rad"][2],
        "phase_rad": info["phase_rad"], "scale": info["scale"],
    }


def score_volume(estimate, truth, region=None, *, shift: bool = False, dilate_voxels: int = 2) -> dict:
    """Score a real 3D volume (delta or beta): whole volume and inside the sample.

    estimate, truth: real (n_z, n_y, n_x); region: bool (n_z, n_y, n_x) "inside the sample", default
    ``truth != 0`` dilated by ``dilate_voxels`` (whole-volume SSIM is inflated by vacuum, REGIMES.md).
    No alignment unless ``shift``: then an integer-voxel shift from phase correlation (periodic roll).
    Keys: "nrmse", "nrmse_in", "ssim", "ssim_in" (region-averaged SSIM map), "psnr",
    "shift_z_px", "shift_y_px", "shift_x_px". One data range, ``ptp(truth)``, for all SSIM/PSNR values.
    """
    estimate, truth = image_pair(estimate, truth, ndim=(3,), real=True)
    if region is None:
        if not np.any(truth):
            raise ValueError("truth is zero everywhere: no sample region; pass region explicitly")
        region = ndimage.binary_dilation(truth != 0, iterations=int(dilate_voxels)) if dilate_voxels else truth != 0
    region = region_mask(region, truth.shape)
    offset = (0, 0, 0)
    if shift:
        found, _, _ = phase_cross_correlation(truth.astype(np.float64), estimate.astype(np.float64))
        offset = tuple(int(round(s)) for s in found)
        estimate = np.roll(estimate, offset, axis=(0, 1, 2))
    data_range = default_data_range(truth, estimate)
    return {
        "nrmse": nrmse(estimate, truth),
        "nrmse_in": nrmse(estimate, truth, region),
        "ssim": ssim(estimate, truth, data_range=data_range),
        "ssim_in": ssim(estimate, truth, region, data_range=data_range),
        "psnr": psnr(estimate, truth, data_range=data_range),
        "shift_z_px": offset[0], "shift_y_px": offset[1], "shift_x_px": offset[2],
    }
