"""A crystalline particle for Bragg imaging: a support (ellipsoid or faceted), a uniform electron
density inside, and a displacement field u(r) whose projection on the Bragg vector is the phase
the Bragg simulator sees (phi = G . u, cdibench.physics.bragg).

Coordinates (z, y, x) [m] are centred on the grid's geometric centre ((n - 1) / 2 voxels), so a grid
``u`` times finer with voxel / u holds the same particle (its block mean is the coarse one).
Lengths given as fractions refer to the particle radius R = diameter_fraction * min(n_y, n_x) / 2
voxels. The phantom registry's generator returns the refractive index of the particle (delta,
beta of ``material`` times the occupancy); :func:`crystal_fields` gives the Bragg simulator the
occupancy and the displacement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench.config import require
from cdibench.phantoms.base import Phantom
from cdibench.phantoms.materials import material
from cdibench.phantoms.thin import check_grid, phantom_meta

SHAPES = ("ellipsoid", "faceted")
SUPERSAMPLE = 3  # sub-samples per voxel and axis of the partial-volume occupancy
_R_EPS = 1e-6  # [R^2] keeps the dislocation field finite on its line


@dataclass(frozen=True)
class CrystalConfig:
    """Crystal particle.

    shape: "ellipsoid" or "faceted" (a cube |r_i| <= R cut by the octahedron |z| + |y| + |x| <=
    octahedral_cut R: 1 = octahedron, 3 = cube, 2 = cuboctahedral {100}/{111} facets);
    diameter_fraction: particle diameter / min(n_y, n_x); aspect_zyx: semi-axis factors.
    material (+ material_density_g_cm3): the refractive index stored as delta, beta.
    Displacement u(r) [m], the sum of (all optional, 0 = off):
    - uniform_strain eps: dilatation u = eps (r - c) about the particle centre c;
    - a Gaussian bump: u = bump_displacement_m (r - b) / s exp(-|r - b|^2 / (2 s^2)), centre
      b = bump_centre_fraction R, width s = bump_sigma_fraction R (max |u| = 0.61 amplitude at |r - b| = s);
    - a dislocation along y through (z, x) = dislocation_position_fraction R with Burgers vector
      dislocation_burgers_m (b_z, b_y, b_x) [m]: isotropic elasticity (Hirth & Lothe), edge part in
      the z-x plane, screw part b_y; poisson_ratio nu. The atan2 cut carries a jump of b, so G . b
      must be a multiple of 2 pi (the Bragg simulator checks it).
    """

    shape: str = "faceted"
    diameter_fraction: float = 0.45
    aspect_zyx: tuple[float, float, float] = (1.0, 1.0, 1.0)
    octahedral_cut: float = 2.0
    material: str = "gold"
    material_density_g_cm3: float | None = None
    uniform_strain: float = 0.0
    bump_displacement_m: float = 0.0
    bump_sigma_fraction: float = 0.5
    bump_centre_fraction: tuple[float, float, float] = (0.3, -0.2, 0.2)
    dislocation_burgers_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    dislocation_position_fraction: tuple[float, float] = (0.15, -0.1)
    poisson_ratio: float = 0.44

    def __post_init__(self):
        require(self.shape in SHAPES, "phantom.shape", self.shape, f"one of {SHAPES}")
        require(0 < self.diameter_fraction <= 1, "phantom.diameter_fraction", self.diameter_fraction,
                "a fraction in (0, 1]")
        require(all(0 < a <= 2 for a in self.aspect_zyx), "phantom.aspect_zyx", self.aspect_zyx,
                "three factors in (0, 2]")
        require(1 <= self.octahedral_cut <= 3, "phantom.octahedral_cut", self.octahedral_cut, "in [1, 3]")
        material(self.material, self.material_density_g_cm3, "phantom.material")
        require(abs(self.uniform_strain) < 0.1, "phantom.uniform_strain", self.uniform_strain, "|eps| < 0.1")
        require(np.isfinite(self.bump_displacement_m) and abs(self.bump_displacement_m) < 1e-8,
                "phantom.bump_displacement_m", self.bump_displacement_m, "a displacement [m] below 10 nm")
        require(self.bump_sigma_fraction > 0, "phantom.bump_sigma_fraction", self.bump_sigma_fraction, "> 0")
        require(all(np.isfinite(b) and abs(b) < 1e-8 for b in self.dislocation_burgers_m),
                "phantom.dislocation_burgers_m", self.dislocation_burgers_m, "(b_z, b_y, b_x) [m], each below 10 nm")
        require(0 <= self.poisson_ratio < 0.5, "phantom.poisson_ratio", self.poisson_ratio, "in [0, 0.5)")


def _coordinates_m(shape, voxel_m: float, offsets=(0.0,)):
    """Per axis, voxel-centre (+ sub-sample offsets [voxel]) coordinates [m] about the geometric centre."""
    return [((np.arange(n)[:, None] + np.asarray(offsets)[None, :]) - (n - 1) / 2).ravel() * voxel_m
            for n in shape]


def _radii_m(config: CrystalConfig, shape, voxel_m: float) -> np.ndarray:
    radius = config.diameter_fraction * min(shape[1], shape[2]) / 2 * voxel_m
    radii = radius * np.asarray(config.aspect_zyx, dtype=np.float64)
    require(np.all(2 * radii <= np.asarray(shape) * voxel_m), "phantom.diameter_fraction",
            config.diameter_fraction, f"a particle inside the grid {tuple(shape)} (aspect_zyx "
            f"{config.aspect_zyx} makes it {tuple(np.round(2 * radii / voxel_m, 1))} voxels)")
    return radii


def _inside(config: CrystalConfig, z, y, x, radii) -> np.ndarray:
    u, v, w = z / radii[0], y / radii[1], x / radii[2]
    if config.shape == "ellipsoid":
        return u * u + v * v + w * w <= 1
    cube = (np.abs(u) <= 1) & (np.abs(v) <= 1) & (np.abs(w) <= 1)
    return cube & (np.abs(u) + np.abs(v) + np.abs(w) <= config.octahedral_cut)


def occupancy(config: CrystalConfig, shape, voxel_m: float) -> np.ndarray:
    """Partial-volume fraction of each voxel inside the particle, float32 (n_z, n_y, n_x)."""
    radii = _radii_m(config, shape, voxel_m)
    s = SUPERSAMPLE
    offsets = (np.arange(s) + 0.5) / s - 0.5
    z, y, x = _coordinates_m(shape, voxel_m, offsets)
    out = np.empty(tuple(shape), np.float32)
    y, x = y[None, :, None], x[None, None, :]
    for k in range(shape[0]):
        inside = _inside(config, z[k * s:(k + 1) * s, None, None], y, x, radii)
        out[k] = inside.reshape(s, shape[1], s, shape[2], s).mean(axis=(0, 2, 4))
    return out


def _bump(config: CrystalConfig, z, y, x, radius: float) -> list[np.ndarray]:
    centre = np.asarray(config.bump_centre_fraction) * radius
    d = [z - centre[0], y - centre[1], x - centre[2]]
    sigma = config.bump_sigma_fraction * radius
    envelope = config.bump_displacement_m / sigma * np.exp(-(d[0]**2 + d[1]**2 + d[2]**2) / (2 * sigma**2))
    return [envelope * c for c in d]


def _dislocation(config: CrystalConfig, z, x, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u_z, u_y, u_x) of a straight dislocation along y (isotropic elasticity)."""
    b_z, b_y, b_x = config.dislocation_burgers_m
    nu = config.poisson_ratio
    zc, xc = (f * radius for f in config.dislocation_position_fraction)
    dz, dx = z - zc, x - xc
    u_y = b_y / (2 * np.pi) * np.arctan2(dz, dx)
    b = np.hypot(b_z, b_x)
    if b == 0:
        return np.zeros_like(u_y), u_y, np.zeros_like(u_y)
    cos, sin = b_x / b, b_z / b  # local x' along the edge Burgers vector, z' its glide-plane normal
    xl, zl = dx * cos + dz * sin, -dx * sin + dz * cos
    r2 = xl**2 + zl**2 + _R_EPS * radius**2
    u_xl = b / (2 * np.pi) * (np.arctan2(zl, xl) + xl * zl / (2 * (1 - nu) * r2))
    u_zl = -b / (2 * np.pi) * ((1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2 / radius**2)
                               + (xl**2 - zl**2) / (4 * (1 - nu) * r2))
    return u_xl * sin + u_zl * cos, u_y, u_xl * cos - u_zl * sin


def displacement_m(config: CrystalConfig, shape, voxel_m: float) -> np.ndarray:
    """u(r) [m] at the voxel centres, float32 (3, n_z, n_y, n_x) as (u_z, u_y, u_x)."""
    radius = config.diameter_fraction * min(shape[1], shape[2]) / 2 * voxel_m
    z, y, x = _coordinates_m(shape, voxel_m)
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    full = tuple(shape)
    u = [np.zeros(full) for _ in range(3)]
    if config.uniform_strain:
        for i, c in enumerate((z, y, x)):
            u[i] = u[i] + config.uniform_strain * c
    if config.bump_displacement_m:
        for i, c in enumerate(_bump(config, z, y, x, radius)):
            u[i] = u[i] + c
    if any(config.dislocation_burgers_m):
        for i, c in enumerate(_dislocation(config, z, x, radius)):
            u[i] = u[i] + c
    return np.stack([np.broadcast_to(c, full) for c in u]).astype(np.float32)


def crystal_fields(config: CrystalConfig, shape_px, voxel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(occupancy float32 (n_z, n_y, n_x), displacement float32 (3, n_z, n_y, n_x) [m])."""
    shape = tuple(int(n) for n in shape_px)
    return occupancy(config, shape, voxel_size_m), displacement_m(config, shape, voxel_size_m)


def crystal(config: CrystalConfig, shape_px, voxel_size_m: float, energy_kev: float,
            rng: np.random.Generator) -> Phantom:
    """The particle's refractive index: delta, beta float32 (n_z, n_y, n_x) of ``material`` times
    the occupancy. ``rng`` is unused (the particle is deterministic)."""
    shape = check_grid(shape_px, voxel_size_m, energy_kev, thin=False)
    mat = material(config.material, config.material_density_g_cm3, "phantom.material")
    occ = occupancy(config, shape, voxel_size_m)
    d, b = mat.index(energy_kev)
    meta = phantom_meta("crystal", config, [mat.describe(config.material, energy_kev)])
    return Phantom(occ * np.float32(d), occ * np.float32(b), float(voxel_size_m), float(energy_kev),
                   "crystal", meta)
