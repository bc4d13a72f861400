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
    """Per-slice transmission, complex64 of delta's shape (n_z, ..., n_y, n_x)."""
    k_dz = units.wavenumber_per_m(energy_kev) * dz_m
    return np.exp(-1j * k_dz * (delta.astype(np.complex64) - 1j * beta)).astype(np.complex64)


def multislice(field: np.ndarray, transmissions, kernel: np.ndarray, repeats: int = 1) -> np.ndarray:
    """Propagate waves through slices.

    field: complex64 (..., n_y, n_x) incident waves; transmissions: sequence of n_z complex64 arrays
    broadcastable against field; kernel: angular-spectrum transfer function (n_y, n_x) for one slice
    spacing. ``repeats`` applies each transmission that many times (sub-slicing a voxel: pass the
    transmissions of a slab dz / repeats). Returns complex64 (..., n_y, n_x) at the last slice's plane.
    """
    wave = None
    for t in transmissions:
        for _ in range(repeats):
            wave = field * t if wave is None else propagate(wave, kernel) * t
    return wave.astype(np.complex64, copy=False)
