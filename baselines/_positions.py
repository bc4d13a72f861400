"""Scan-position correction for ePIE/rPIE by cross-correlation (F. Zhang, I. Peterson, J. Vila-Comamala,
A. Diaz, F. Berenguer, R. Bean, B. Chen, A. Menzel, I. K. Robinson & J. M. Rodenburg, "Translation
position determination in ptychographic coherent diffraction imaging", Opt. Express 21, 13592 (2013)).

At position j the object patch before its update, b = w O_j, and after it, a = w (O_j + dO_j), are
registered: their cross-correlation C(t) = sum_r a(r + t) conj(b(r)) (w = sum_k |P_k|^2 / max, the
illumination) peaks at the sub-pixel shift s_j of the update, found by a 3-point parabola through
|C| at t = 0, +-1 on each axis (the shifts per update are far below a pixel, so the peak is always
at t = 0: no upsampled DFT is needed). The position moves against the update's drift,
p_j <- p_j - gain s_j, at most ``max_step_px`` per axis and visit, clipped to keep the window inside
the object. After each sweep the mean correction is removed (a global shift of every position is
the object's own translation, not an error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baselines import _checks as checks
from baselines._fft import shift_ramps


@dataclass(frozen=True)
class PositionCorrection:
    """Options of the correction: from sweep ``start_after`` (0-based) on, ``gain`` (> 0) times the
    measured drift, at most ``max_step_px`` (> 0) per axis and visit."""

    start_after: int = 10
    gain: float = 10.0
    max_step_px: float = 0.2

    def __post_init__(self):
        checks.integer("refine_positions.start_after", self.start_after, 0)
        checks.in_range("refine_positions.gain", self.gain, 0.0, float("inf"))
        checks.in_range("refine_positions.max_step_px", self.max_step_px, 0.0, float("inf"))


def start(correction: PositionCorrection, positions_px: np.ndarray, object_shape, window) -> PositionRefinement:
    """The refinement state of validated positions float64 (n, 2) (copied)."""
    return PositionRefinement(positions_px.copy(), positions_px.mean(axis=0),
                              np.subtract(object_shape, window).astype(np.float64), correction.gain,
                              correction.max_step_px)


@dataclass
class PositionRefinement:
    """The refined positions of one ePIE/rPIE run and the constants of their update."""

    positions_px: np.ndarray  # float64 (n_pos, 2), current (row, col) corners
    mean_px: np.ndarray  # float64 (2,), the initial positions' mean (kept fixed)
    highest_px: np.ndarray  # float64 (2,), object_shape - window: the largest allowed corner
    gain: float
    max_step_px: float


def correlation_shift(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Sub-pixel shift (dy, dx) of ``new`` relative to ``old`` (complex (n_y, n_x) each; positive =
    content moved towards larger indices) from the parabola through |C| at the lags 0, +-1 (module
    docstring). Returns float64 (2,); 0 on an axis where |C| is not peaked at lag 0."""
    c0 = abs(np.vdot(old, new))
    shift = np.zeros(2)
    for axis in (0, 1):
        lead = [slice(None)] * 2
        lag = [slice(None)] * 2
        lead[axis], lag[axis] = slice(1, None), slice(None, -1)
        plus = abs(np.vdot(old[tuple(lag)], new[tuple(lead)]))  # C(+1): new(r + 1) against old(r)
        minus = abs(np.vdot(old[tuple(lead)], new[tuple(lag)]))
        curvature = 2 * c0 - plus - minus
        if curvature > 0:
            shift[axis] = np.clip((plus - minus) / (2 * curvature), -0.5, 0.5)
    return shift


def refine_position(ref: PositionRefinement, j: int, patch: np.ndarray, d_obj: np.ndarray, weight: np.ndarray,
                    corners: np.ndarray, ramps: tuple[np.ndarray, np.ndarray]) -> None:
    """Move position j against the drift of its object update (patch: O_j before it, d_obj: the
    update, weight: the illumination, all (n_y, n_x)); corners (n, 2) and the shift ramps of
    :func:`baselines._fft.shift_ramps` are rewritten in place for j."""
    w = weight / (float(weight.max()) + 1e-30)
    old = w * patch
    step = np.clip(-ref.gain * correlation_shift(old + w * d_obj, old), -ref.max_step_px, ref.max_step_px)
    _place(ref, [j], np.clip(ref.positions_px[j] + step, 0, ref.highest_px)[None], corners, ramps, patch.shape)


def recentre(ref: PositionRefinement, corners: np.ndarray, ramps: tuple[np.ndarray, np.ndarray],
             window: tuple[int, int]) -> None:
    """Remove the mean correction of every position (then clip into the object)."""
    moved = np.clip(ref.positions_px - (ref.positions_px.mean(axis=0) - ref.mean_px), 0, ref.highest_px)
    _place(ref, np.arange(len(moved)), moved, corners, ramps, window)


def _place(ref, indices, positions_px: np.ndarray, corners, ramps, window) -> None:
    """Set positions ``indices`` to positions_px (k, 2): the float positions, corners and ramps."""
    ref.positions_px[indices] = positions_px
    corners[indices] = np.floor(positions_px).astype(np.int64)
    ramp_y, ramp_x = shift_ramps(positions_px - corners[indices], window)
    ramps[0][indices] = ramp_y
    ramps[1][indices] = ramp_x
