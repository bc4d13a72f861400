"""The Phantom type: a complex refractive-index volume n = 1 - delta + i beta."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cdibench import units


@dataclass(frozen=True)
class Phantom:
    """Complex refractive index decrement of a sample on a voxel grid.

    delta, beta: float32 (n_z, n_y, n_x), z along the beam (axis 0), y the tomographic rotation
    axis. Values hold at ``energy_kev``. ``voxel_size_m`` is the cubic voxel edge [m].
    With a wave exp(+i k z), a slab of thickness dz multiplies the field by
    exp(-i k dz (delta - i beta)): phase -k delta dz, amplitude exp(-k beta dz).
    """

    delta: np.ndarray
    beta: np.ndarray
    voxel_size_m: float
    energy_kev: float
    name: str = "phantom"
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for name in ("delta", "beta"):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 3:
                raise ValueError(f"Phantom.{name} must be a 3D array (n_z, n_y, n_x), got "
                                 f"{getattr(arr, 'shape', type(arr))}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"Phantom.{name} contains NaN or Inf")
            object.__setattr__(self, name, arr.astype(np.float32, copy=False))
        if self.delta.shape != self.beta.shape:
            raise ValueError(f"Phantom.beta shape {self.beta.shape} != delta shape {self.delta.shape}")
        if not self.voxel_size_m > 0:
            raise ValueError(f"Phantom.voxel_size_m must be > 0, got {self.voxel_size_m}")
        if not self.energy_kev > 0:
            raise ValueError(f"Phantom.energy_kev must be > 0, got {self.energy_kev}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.delta.shape

    @property
    def thickness_m(self) -> float:
        """Extent along the beam (z) of the non-vacuum voxels [m] (0 for an empty volume)."""
        occupied = np.flatnonzero(np.any((self.delta != 0) | (self.beta != 0), axis=(1, 2)))
        if occupied.size == 0:
            return 0.0
        return float((occupied[-1] - occupied[0] + 1) * self.voxel_size_m)

    def dof_ratio(self, resolution_m: float | None = None) -> float:
        """thickness / DOF at this phantom's energy; resolution defaults to the voxel size."""
        if self.thickness_m == 0:
            return 0.0
        res = self.voxel_size_m if resolution_m is None else resolution_m
        return float(units.dof_ratio(self.thickness_m, res, self.energy_kev))

    def at_energy(self, energy_kev: float) -> "Phantom":
        """The same sample at another energy, away from absorption edges: delta ~ E^-2, beta ~ E^-4.

        Used for the narrow spectra of temporal partial coherence (bandwidth << 1).
        """
        ratio = self.energy_kev / float(energy_kev)
        return Phantom(self.delta * np.float32(ratio**2), self.beta * np.float32(ratio**4),
                       self.voxel_size_m, float(energy_kev), self.name, self.meta)

    def transmission(self, energy_kev: float | None = None) -> np.ndarray:
        """Projection-approximation transmission, complex64 (n_y, n_x).

        t = exp(-i k dz sum_z (delta - i beta)), at ``energy_kev`` (default: the phantom's).
        """
        ph = self if energy_kev is None else self.at_energy(energy_kev)
        k_dz = units.wavenumber_per_m(ph.energy_kev) * ph.voxel_size_m
        proj = ph.delta.sum(axis=0, dtype=np.float64) - 1j * ph.beta.sum(axis=0, dtype=np.float64)
        return np.exp(-1j * k_dz * proj).astype(np.complex64)

    def summary(self) -> dict:
        """Plain-number description for logs and files."""
        return {"name": self.name, "shape": list(self.shape), "voxel_size_m": self.voxel_size_m,
                "energy_kev": self.energy_kev, "thickness_m": self.thickness_m,
                "dof_m": float(units.depth_of_focus_m(self.voxel_size_m, self.energy_kev)),
                "dof_ratio": self.dof_ratio(),
                "delta_max": float(self.delta.max(initial=0)), "beta_max": float(self.beta.max(initial=0))}
