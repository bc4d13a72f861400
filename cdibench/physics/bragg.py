"""Bragg ptychography of a crystal: geometry and the numpy forward model (kinematic, far field).

Frame and conventions (Hruszkewycz et al., Nat. Mater. 16, 244 (2017); Kandel et al., Opt. Express
27, 18653 (2019), Bragg model). Vectors are written (z, y, x), the axis order of every volume:

- The reconstruction grid is fixed to the detector: z (axis 0) runs along the exit (diffracted)
  beam k_f, y (rows) and x (columns) span the detector plane, the voxel is a cube of edge
  ``voxel_m``, which equals the far-field object pixel lambda D / (N p). Coordinates are centred on
  voxel ``n // 2`` of every axis; a grid ``upsample`` times finer shares the coarse grid's voxel
  blocks (fine voxel j lies at coarse coordinate (j + 1/2) / u - 1/2 - n // 2).
- The scattering plane is z-x: the incident beam runs along k_i = (cos 2theta, 0, -sin 2theta), so
  2theta is the angle between k_i and k_f and a detector column further along +x sees a larger
  2theta. At the Bragg condition the Bragg vector is G = k_f - k_i = |G| (sin theta, 0, cos theta),
  |G| = 2 pi / d_hkl = 4 pi sin(theta) / lambda.
- Crystal: complex density rho(r) = A(r) exp(i phi(r)), phi = G . u, A the (partial-volume)
  occupancy and u the displacement field. The detector records the centred unitary DFT, kernel
  exp(-i dq . r), of the exit wave, so a phase gradient grad(phi) moves the peak to dq = grad(phi):
  a uniform dilatation u = eps r of positive eps sends it outward along G (dq = eps G). (With waves
  exp(+i k r) a lattice displaced physically by u_p has phi = -G . u_p: the sign of u is the
  convention of the phase, not of the lattice; the scored quantity is phi.)
- Rocking: the sample turns by dtheta about +y, positive when the incidence angle on the
  diffracting planes grows; the Bragg vector becomes G' = |G| (sin(theta - dtheta), 0,
  cos(theta - dtheta)) and the detector samples the crystal's 3D Fourier transform at
  q - G' = dq_det - dG, dG = G' - G ~ |G| dtheta (-cos theta, 0, sin theta): the Ewald slice moves
  through the Bragg peak along the rocking direction by |G| dtheta. The envelope is not rotated
  (dtheta x size << voxel), only the lattice: rocking = the phase ramp exp(i dG . r).
- Probe: a 2D field P(y, a) in the plane perpendicular to k_i, a the coordinate along
  a_hat = (sin 2theta, 0, cos 2theta), invariant along k_i inside the crystal (depth of focus >>
  crystal); in the grid it is the sheared column P(y - p_y, a(z, x) - p_a), evaluated by
  band-limited (periodic sinc) interpolation of the sampled probe, zero outside its window. Scan
  positions (p_y, p_a) [object px] are offsets of the probe centre from the grid centre.
- Detector: small angles (the flat detector samples dq_det = (0, q_y, q_x), the Ewald sphere's
  curvature across the detector is neglected) and the 2D slice / projection theorem: the far field
  is the 2D DFT of the projection of P rho exp(i dG . r) along the exit beam (z).
- Kinematic scattering: no absorption, refraction or multiple scattering inside the crystal.

Per (position, rocking angle) the forward model is the chain of linear operators
``I = sum_modes |F_2D Sum_z [ P_shifted(r) * rho(r) * exp(i dG(dtheta) . r) ]|^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cdibench import units
from cdibench.config import require
from cdibench.physics.forward import farfield_intensity


@dataclass(frozen=True)
class BraggGeometry:
    """Energy [keV], scattering angle 2theta [rad] and cubic voxel [m] of a Bragg experiment."""

    energy_kev: float
    two_theta_rad: float
    voxel_m: float

    def __post_init__(self):
        require(np.isfinite(self.energy_kev) and self.energy_kev > 0, "energy_kev", self.energy_kev, "> 0 keV")
        require(np.isfinite(self.two_theta_rad) and 0 < self.two_theta_rad < np.pi, "two_theta_rad",
                self.two_theta_rad, "an angle in (0, pi) rad")
        require(np.isfinite(self.voxel_m) and self.voxel_m > 0, "voxel_m", self.voxel_m, "> 0 m")

    @property
    def theta_rad(self) -> float:
        return self.two_theta_rad / 2

    @property
    def wavelength_m(self) -> float:
        return float(units.wavelength_m(self.energy_kev))

    @property
    def g_per_m(self) -> float:
        """|G| = 4 pi sin(theta) / lambda = 2 pi / d_hkl [rad/m]."""
        return 4 * np.pi * np.sin(self.theta_rad) / self.wavelength_m

    @property
    def d_spacing_m(self) -> float:
        return 2 * np.pi / self.g_per_m

    @cached_property
    def g_hat(self) -> np.ndarray:
        """Unit Bragg vector (z, y, x) at the Bragg condition."""
        return np.array([np.sin(self.theta_rad), 0.0, np.cos(self.theta_rad)])

    @cached_property
    def rocking_hat(self) -> np.ndarray:
        """Direction (z, y, x) in which G moves for a positive rocking angle."""
        return np.array([-np.cos(self.theta_rad), 0.0, np.sin(self.theta_rad)])

    @cached_property
    def incident_hat(self) -> np.ndarray:
        return np.array([np.cos(self.two_theta_rad), 0.0, -np.sin(self.two_theta_rad)])

    @cached_property
    def probe_a_hat(self) -> np.ndarray:
        """In-plane axis of the probe's cross-section, perpendicular to the incident beam (z, y, x)."""
        return np.array([np.sin(self.two_theta_rad), 0.0, np.cos(self.two_theta_rad)])

    def g_vector(self) -> np.ndarray:
        """G [rad/m] (z, y, x) at the Bragg condition."""
        return self.g_per_m * self.g_hat

    def delta_g(self, dtheta_rad: float) -> np.ndarray:
        """dG = G'(dtheta) - G [rad/m] (z, y, x), exact for the lattice rotation by dtheta."""
        t = self.theta_rad - float(dtheta_rad)
        return self.g_per_m * np.array([np.sin(t), 0.0, np.cos(t)]) - self.g_vector()

    def q_per_px(self, n: int) -> float:
        """Detector sampling dq [rad/m] per pixel of an n-pixel pattern: 2 pi / (n voxel)."""
        return 2 * np.pi / (n * self.voxel_m)


def two_theta_rad(energy_kev: float, d_spacing_m: float) -> float:
    """Bragg's law: 2theta = 2 asin(lambda / 2d) [rad]; ValueError if the reflection is unreachable."""
    ratio = float(units.wavelength_m(energy_kev)) / (2 * d_spacing_m)
    require(0 < ratio < 1, "d_spacing_m", d_spacing_m, f"> lambda / 2 = {ratio * d_spacing_m:.4g} m "
            f"at {energy_kev} keV (else no Bragg reflection)")
    return float(2 * np.arcsin(ratio))


def axis_coordinates_px(n: int, upsample: int = 1) -> np.ndarray:
    """Coordinates [coarse voxels] of the n * upsample fine samples of an n-voxel axis, float64,
    0 at coarse voxel n // 2; each coarse voxel's fine samples are centred on it."""
    return (np.arange(n * upsample) + 0.5) / upsample - 0.5 - n // 2


def grid_coordinates_m(shape, voxel_m: float, upsample: int = 1):
    """(z (Z, 1, 1), y (1, Y, 1), x (1, 1, X)) [m] of the (fine) grid of a coarse ``shape``."""
    z, y, x = (axis_coordinates_px(n, upsample) * voxel_m for n in shape)
    return z[:, None, None], y[None, :, None], x[None, None, :]


def crystal_density(occupancy: np.ndarray, displacement_m: np.ndarray, geometry: BraggGeometry) -> np.ndarray:
    """rho = occupancy exp(i G . u): occupancy float (Z, Y, X), displacement_m float (3, Z, Y, X)
    as (u_z, u_y, u_x) [m] -> complex64 (Z, Y, X)."""
    g = geometry.g_vector()
    phase = np.tensordot(g, displacement_m.astype(np.float64), axes=(0, 0))
    return (occupancy * np.exp(1j * phase)).astype(np.complex64)


def rocking_ramp(dtheta_rad: float, shape, geometry: BraggGeometry, upsample: int = 1,
                 extra_g=None) -> np.ndarray:
    """exp(i (dG(dtheta) + extra_g) . r), complex64 (Z, 1, X) (dG has no y component).

    extra_g: an additional (z, y, x) offset [rad/m] of the sampled reciprocal point (bandwidth)."""
    dg = geometry.delta_g(dtheta_rad) + (0 if extra_g is None else np.asarray(extra_g))
    z, _, x = grid_coordinates_m(shape, geometry.voxel_m, upsample)
    return np.exp(1j * (dg[0] * z + dg[2] * x)).astype(np.complex64)


def interpolation_matrix(n: int, coords_px: np.ndarray) -> np.ndarray:
    """Periodic band-limited interpolation of n samples (at 0 .. n - 1) to ``coords_px``.

    Returns complex128 (len(coords), n) E with f(c) = E @ f; the Nyquist term of even n is split
    symmetrically (cos), so real samples interpolate to real values. Coordinates outside the
    window [-1/2, n - 1/2] get a zero row: the field is zero outside its window.
    """
    c = np.asarray(coords_px, dtype=np.float64).ravel()[:, None]
    k = np.fft.fftfreq(n) * n
    left = np.exp(2j * np.pi * k[None, :] * c / n)
    right = np.exp(-2j * np.pi * k[:, None] * np.arange(n)[None, :] / n)
    if n % 2 == 0:
        nyquist = np.flatnonzero(k == -n // 2)[0]
        left[:, nyquist] = np.cos(np.pi * c[:, 0])
        right[nyquist] = (-1.0) ** np.arange(n)
    matrix = left @ right / n
    matrix[(c[:, 0] < -0.5) | (c[:, 0] > n - 0.5)] = 0
    return matrix


def sheared_probes(probe: np.ndarray, positions_px: np.ndarray, shape, geometry: BraggGeometry,
                   upsample: int = 1, dtype=np.complex64) -> np.ndarray:
    """The probe column in the grid, one per scan position.

    probe: complex (m, w_y, w_a) sampled at the voxel pitch in the (y, a) plane, centre at pixel
    (w_y // 2, w_a // 2); positions_px: (n, 2) probe-centre offsets (p_y, p_a) [coarse voxels] from
    the grid centre; shape: coarse (n_z, n_y, n_x). Returns ``dtype`` (n, m, Z, Y, X) on the grid
    ``upsample`` times finer: P(y - p_y, a(z, x) - p_a), a = z sin 2theta + x cos 2theta.
    """
    probe = np.asarray(probe)
    m, w_y, w_a = probe.shape
    z, y, x = (axis_coordinates_px(n, upsample) for n in shape)
    s, c = geometry.probe_a_hat[0], geometry.probe_a_hat[2]
    a = (z[:, None] * s + x[None, :] * c).ravel()  # (Z X,) [coarse voxels]
    out = np.empty((len(positions_px), m, len(z), len(y), len(x)), dtype)
    for i, (p_y, p_a) in enumerate(np.asarray(positions_px, dtype=np.float64).reshape(-1, 2)):
        e_y = interpolation_matrix(w_y, y - p_y + w_y // 2)  # (Y, w_y)
        e_a = interpolation_matrix(w_a, a - p_a + w_a // 2)  # (Z X, w_a)
        rows = np.matmul(e_y, probe)  # (m, Y, w_a)
        cols = np.matmul(rows, e_a.T).reshape(m, len(y), len(z), len(x))
        out[i] = cols.transpose(0, 2, 1, 3)
    return out


def exit_waves(rho: np.ndarray, probes: np.ndarray, ramp: np.ndarray, upsample: int = 1) -> np.ndarray:
    """Projections along the exit beam: sum_z P rho ramp / upsample^2, complex64 (n, m, Y, X).

    rho (Z, Y, X), probes (n, m, Z, Y, X), ramp (Z, 1, X). One factor 1 / upsample is the finer dz
    of the projection integral, the other the unitary FFT's normalisation on the finer grid (as
    the simulator's fine probe), so that :func:`cdibench.physics.forward.farfield_intensity` with
    ``upsample`` returns the coarse grid's photons.
    """
    weighted = (rho * ramp).astype(np.complex64)
    waves = np.einsum("nmzyx,zyx->nmyx", probes, weighted, optimize=True)
    return (waves / np.float32(upsample**2)).astype(np.complex64)


def patterns(rho: np.ndarray, probes: np.ndarray, ramp: np.ndarray, upsample: int = 1,
             binning: int = 1) -> np.ndarray:
    """Far-field intensities float32 (n, n_y, n_x) of the probe columns ``probes`` (n, m, Z, Y, X)
    on ``rho`` (Z, Y, X) with the rocking ``ramp`` (Z, 1, X), all on the grid ``upsample`` times
    finer than the detector's; modes add incoherently; ``binning``: finite detector pixels."""
    return farfield_intensity(exit_waves(rho, probes, ramp, upsample), upsample, binning)


def bragg_intensities(rho: np.ndarray, probe: np.ndarray, positions_px: np.ndarray, dtheta_rad: float,
                      geometry: BraggGeometry, coarse_shape, upsample: int = 1, binning: int = 1,
                      extra_g=None, chunk: int = 8) -> np.ndarray:
    """Noise-free far-field intensities of one rocking angle, float32 (n, n_y, n_x) [photons].

    rho: complex (Z, Y, X) on the grid ``upsample`` times finer than ``coarse_shape``; probe
    complex (m, w_y, w_a) (sum |P|^2 = photons per frame); positions_px (n, 2) as in
    :func:`sheared_probes`. The probe columns are built ``chunk`` positions at a time.
    """
    ramp = rocking_ramp(dtheta_rad, coarse_shape, geometry, upsample, extra_g)
    out = []
    positions_px = np.asarray(positions_px, dtype=np.float64).reshape(-1, 2)
    for start in range(0, len(positions_px), chunk):
        probes = sheared_probes(probe, positions_px[start:start + chunk], coarse_shape, geometry, upsample)
        out.append(patterns(rho, probes, ramp, upsample, binning))
    return np.concatenate(out).astype(np.float32)


def illumination(probe: np.ndarray, positions_px: np.ndarray, shape, geometry: BraggGeometry) -> np.ndarray:
    """Summed probe intensity over all positions and modes, float64 (n_z, n_y, n_x) (coarse grid)."""
    total = np.zeros(tuple(shape))
    for p in np.asarray(positions_px, dtype=np.float64).reshape(-1, 2):
        column = sheared_probes(probe, p[None], shape, geometry)[0]
        total += (np.abs(column) ** 2).sum(axis=0)
    return total


def block_mean(volume: np.ndarray, upsample: int) -> np.ndarray:
    """Mean over upsample^3 blocks: (Z u, Y u, X u) -> (Z, Y, X), dtype kept (complex allowed)."""
    if upsample == 1:
        return volume
    n_z, n_y, n_x = (n // upsample for n in volume.shape)
    blocks = volume.reshape(n_z, upsample, n_y, upsample, n_x, upsample)
    wide = np.complex128 if np.iscomplexobj(volume) else np.float64
    return blocks.mean(axis=(1, 3, 5), dtype=wide).astype(volume.dtype)
