"""Thin-object (projection approximation) exit waves at subpixel scan positions.

A probe at position p = i + f (integer i, fraction f in [0, 1), in object pixels, top-left corner of
the probe window) illuminates the object window O[i : i + w]; the fraction is applied to the probe as
a Fourier shift, so the object is never interpolated.
"""

from __future__ import annotations

import numpy as np

from cdibench.physics.fft import fourier_shift


def split_positions(positions_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) float positions -> integer corners int64 (n, 2) and fractions float64 (n, 2) in [0, 1)."""
    corners = np.floor(positions_px).astype(np.int64)
    return corners, positions_px - corners


def extract_patches(obj: np.ndarray, corners: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Object windows, copied whole from a sliding-window view (one index per window, not per pixel:
    14x faster than per-pixel fancy indexing at 16 x 256^2).

    obj: (..., n_y, n_x); corners: int (n, 2); returns (n, ..., w_y, w_x) of obj's dtype.
    """
    windows = np.lib.stride_tricks.sliding_window_view(obj, window, axis=(-2, -1))
    return np.moveaxis(windows[..., corners[:, 0], corners[:, 1], :, :], -3, 0)


def shifted_probes(probe: np.ndarray, fractions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Probe modes shifted by subpixel fractions. probe (m, w_y, w_x), fractions (n, 2) -> (n, m, w_y, w_x).

    out: optional contiguous (n, m, w_y, w_x) buffer of probe's dtype to write into; without it the
    result may be a read-only broadcast view (all fractions zero)."""
    if not np.any(fractions):
        if out is None:
            return np.broadcast_to(probe, (len(fractions),) + probe.shape)
        out[...] = probe
        return out
    return fourier_shift(probe[None], fractions[:, None, :], out=out)


def exit_waves(obj: np.ndarray, probe: np.ndarray, positions_px: np.ndarray) -> np.ndarray:
    """Projection-approximation exit waves psi = P(r - p) O(r).

    obj: complex64 (n_y, n_x); probe: complex64 (n_modes, w_y, w_x); positions_px: float (n, 2)
    -> complex64 (n, n_modes, w_y, w_x).
    """
    corners, fractions = split_positions(np.asarray(positions_px, dtype=np.float64))
    patches = extract_patches(obj, corners, probe.shape[-2:])
    return (shifted_probes(probe, fractions) * patches[:, None]).astype(np.complex64)
