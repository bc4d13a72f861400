"""Rotation of a volume about the tomographic axis (y) for multi-angle experiments.

One explicit operator, centred on voxel (n_z // 2, n_x // 2) like scikit-image's radon/iradon (a
half-voxel mismatch between simulator and reconstruction alone costs a lot of SSIM, REGIMES.md).
Sign convention, pinned by a test: the beam-axis (z) projection of ``rotate_volume(v, a)`` equals
``skimage.transform.radon(v[:, y, :], theta=[degrees(a)])`` for every y.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from cdibench.physics.fft import WORKERS


def _each_plane(fn, planes) -> None:
    """fn(y) for every y in planes, on WORKERS threads: ndimage releases the GIL, so the planes of a
    volume interpolate in parallel (measured 2.0x on 2 cores for 128 x 64 x 128)."""
    if WORKERS == 1:
        for y in planes:
            fn(y)
        return
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(fn, planes):  # consumed so that a worker's exception is raised here
            pass


def rotation_matrix(angle_rad: float) -> np.ndarray:
    """2x2 map from output (z, x) voxel offsets to input offsets: a rotation in the z-x plane."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def spline_coefficients(volume: np.ndarray, order: int = 3) -> np.ndarray:
    """The y planes' 2D spline coefficients that :func:`rotate_volume` interpolates, float64 (n_z, n_y,
    n_x). They do not depend on the angle: a simulation over many angles filters once (each filter
    costs a quarter of a rotation at order 3), with results identical to filtering per call."""
    out = np.empty(volume.shape, np.float64)

    def plane(y):
        out[:, y, :] = ndimage.spline_filter(volume[:, y, :], order, output=np.float64, mode="constant")
    _each_plane(plane, range(volume.shape[1]))
    return out


def rotate_volume(volume: np.ndarray, angle_rad: float, order: int = 3,
                  coefficients: np.ndarray | None = None) -> np.ndarray:
    """Rotate float32 (n_z, n_y, n_x) about the y axis by angle_rad; vacuum (0) fills from outside.

    order: spline order (3 for the simulator; the reconstruction models use their own, lower-order
    interpolation so that no result rests on the inverse crime). Each y plane is a 2D transform:
    a 3D spline of order 3 would spend 4x the work interpolating along the unchanged axis.
    coefficients: the volume's :func:`spline_coefficients` (order > 1), to skip filtering here.
    """
    if angle_rad == 0:
        return volume
    centre = np.array([volume.shape[0] // 2, volume.shape[2] // 2], dtype=float)
    matrix = rotation_matrix(angle_rad)
    offset = centre - matrix @ centre
    if coefficients is None and order > 1:
        coefficients = spline_coefficients(volume, order)
    source = volume if order <= 1 else coefficients
    out = np.zeros_like(volume)

    def plane(y):
        out[:, y, :] = ndimage.affine_transform(source[:, y, :], matrix, offset=offset, order=order,
                                                mode="constant", cval=0.0, prefilter=False)
    _each_plane(plane, np.flatnonzero(source.any(axis=(0, 2))))  # an empty plane (vacuum, padding) stays 0
    return out


def angles_rad(n_angles: int, range_deg: float = 180.0) -> np.ndarray:
    """Equally spaced angles over [0, range) in rad, float64 (n_angles,)."""
    return np.deg2rad(np.arange(n_angles) * (range_deg / n_angles))
