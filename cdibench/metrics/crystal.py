"""Scores of a reconstructed complex 3D crystal (Bragg imaging): amplitude and strain phase.

Two ambiguities are removed before scoring: the global phase, and a translation along the incident
beam (the probe is invariant along it and the far field is shift-invariant, so no Bragg data can
place the crystal along k_i). The known probe fixes the twin and the other two translations, and
the known detector centre (the Bragg peak) fixes the phase ramp, which is a physical uniform
strain, so the headline phase error keeps it; ``rmse_phase_deramped_rad`` also removes a fitted 3D
ramp, to tell a uniform-strain (Bragg-angle) error from local strain errors.
"""

from __future__ import annotations

import numpy as np

from cdibench.metrics._checks import image_pair, region_mask
from cdibench.metrics.phase import global_phase


def _wrapped(phase: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * phase))


def _deramped_rms(residual: np.ndarray, region: np.ndarray) -> float:
    """RMS of the phase ``residual`` (region voxels) after a least-squares 3D ramp a + b . r."""
    coords = np.argwhere(region).astype(np.float64)
    coords -= coords.mean(axis=0)
    design = np.column_stack([np.ones(len(coords)), coords])
    values = residual[region]
    fit, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.sqrt(np.mean((values - design @ fit) ** 2)))


def _wavenumbers(shape) -> list[np.ndarray]:
    return np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)


def translate(volume: np.ndarray, shift_px) -> np.ndarray:
    """volume(r - shift) by a Fourier phase ramp (periodic), complex128; shift (z, y, x) [voxels]."""
    k = _wavenumbers(volume.shape)
    ramp = np.exp(-1j * sum(ki * si for ki, si in zip(k, shift_px)))
    return np.fft.ifftn(np.fft.fftn(volume) * ramp)


def register_along(estimate, truth, direction, region=None, step_px: float = 0.5) -> float:
    """Translation s [voxels] along the unit vector ``direction`` (z, y, x) maximising
    |sum_region conj(estimate(r - s d)) truth(r)|: a grid search over +-n/2 in ``step_px`` steps,
    then a finer one (step / 20) about the best."""
    estimate, truth = image_pair(estimate, truth, ndim=(3,))
    region = region_mask(region, truth.shape)
    spectrum = np.conj(np.fft.fftn(estimate)).ravel()
    target = np.fft.fftn(np.where(region, truth, 0)).ravel()
    k = _wavenumbers(truth.shape)
    along = np.broadcast_to(sum(ki * di for ki, di in zip(k, direction)), truth.shape).ravel()
    cross = spectrum * target

    def best(shifts):
        values = np.abs(np.exp(1j * np.outer(shifts, along)) @ cross)
        return float(shifts[int(np.argmax(values))])

    half = max(truth.shape) / 2
    coarse = best(np.arange(-half, half, step_px))
    return best(coarse + np.linspace(-step_px, step_px, 41))


def score_crystal(estimate, truth, region=None, shift_direction=None) -> dict:
    """Align (a translation along ``shift_direction`` if given, the global phase, then a real
    least-squares scale) and score a complex crystal.

    estimate, truth: complex (n_z, n_y, n_x); region: bool (n_z, n_y, n_x), where to score (the
    crystal's support where the scan lights it); shift_direction: unit (z, y, x) vector of the
    undetermined translation (the incident beam). Keys: "nrmse" (complex), "nrmse_amplitude",
    "rmse_phase_rad" (RMS of the wrapped phase difference [rad]), "rmse_phase_deramped_rad" (after
    a fitted 3D phase ramp), "shift_px" (the translation removed, voxels along the direction),
    "phase_rad" (the global phase removed), "scale".
    """
    estimate, truth = image_pair(estimate, truth, ndim=(3,))
    region = region_mask(region, truth.shape)
    shift = 0.0
    if shift_direction is not None:
        direction = np.asarray(shift_direction, dtype=np.float64)
        shift = register_along(estimate, truth, direction, region)
        estimate = translate(estimate, shift * direction)
    weights = region.astype(np.float64)
    phase = global_phase(estimate, truth, weights)
    aligned = estimate.astype(np.complex128) * np.exp(1j * phase)
    power = np.sum(np.abs(aligned[region]) ** 2)
    scale = float(np.real(np.sum(np.conj(aligned[region]) * truth[region])) / power) if power > 0 else 1.0
    aligned = aligned * scale
    t = truth[region].astype(np.complex128)
    residual = _wrapped(np.angle(aligned) - np.angle(truth))
    return {
        "nrmse": float(np.linalg.norm(aligned[region] - t) / np.linalg.norm(t)),
        "nrmse_amplitude": float(np.linalg.norm(np.abs(aligned[region]) - np.abs(t)) / np.linalg.norm(t)),
        "rmse_phase_rad": float(np.sqrt(np.mean(residual[region] ** 2))),
        "rmse_phase_deramped_rad": _deramped_rms(residual, region),
        "shift_px": shift, "phase_rad": phase, "scale": scale,
    }
