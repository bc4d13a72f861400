"""Multislice propagation through a 3D refractive-index volume.

Convention (Cowley & Moodie; as in Maiden et al. 2012, Tsai et al. 2016): the incident wave is
defined at the plane of the first slice; each slice multiplies by its transmission
t_j = exp(-i k dz (delta_j - i beta_j)) and the wave is propagated by dz (angular spectrum) between
consecutive slices. The returned exit wave lies at the plane of the last slice, so one slice is
exactly the projection approximation.
"""

from __future__ import annotations

import numpy as np

from cdibench import units
from cdibench.physics.propagators import propagate


def slice_transmissions(delta: np.ndarray, beta: np.ndarray, dz_m: float, energy_kev: float) -> np.ndarray:
    """Per-slice transmission exp(-i k dz (delta - i beta)), complex64 of delta's shape (n_z, ..., n_y, n_x).

    Built as amplitude x (cos + i sin) in float32: 13x faster than a complex exponential."""
    k_dz = units.wavenumber_per_m(energy_kev) * dz_m
    amplitude = np.exp(np.float32(-k_dz) * beta.astype(np.float32))
    phase = np.float32(-k_dz) * delta.astype(np.float32)
    out = np.empty(np.broadcast_shapes(delta.shape, beta.shape), np.complex64)
    out.real = amplitude * np.cos(phase)
    out.imag = amplitude * np.sin(phase)
    return out


def multislice(field: np.ndarray, transmissions, kernel: np.ndarray, repeats: int = 1,
               overwrite: bool = False, corners: np.ndarray | None = None) -> np.ndarray:
    """Propagate waves through slices.

    field: complex64 (..., n_y, n_x) incident waves; transmissions: sequence of n_z complex64 arrays
    broadcastable against field; kernel: angular-spectrum transfer function (n_y, n_x) for one slice
    spacing. ``repeats`` applies each transmission that many times (sub-slicing a voxel: pass the
    transmissions of a slab dz / repeats). Returns complex64 (..., n_y, n_x) at the last slice's plane.
    overwrite: field (contiguous complex64 of the output shape) may be worked on in place and returned.
    corners: int (n, 2) window corners; then field is (n, m, w_y, w_x), each transmission a whole
    plane (n_y, n_x) and wave i meets the plane's window at corners[i] (no gathered copy of windows).
    """
    if not overwrite:  # the output array, ours to work on in place
        field = np.array(field if corners is not None else np.broadcast_to(
            field, np.broadcast_shapes(field.shape, np.shape(transmissions[0]))), dtype=np.complex64)
    wave, first = field, True
    for t in transmissions:
        for _ in range(repeats):
            if not first:
                wave = propagate(wave, kernel, overwrite=True)
            first = False
            if corners is None:
                wave *= t
            else:  # window by window, in place: no gathered copy of the windows to allocate
                for w, (row, col) in zip(wave, corners):
                    w *= t[row:row + w.shape[-2], col:col + w.shape[-1]]
    return wave
