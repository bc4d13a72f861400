"""The sample and the beam of a transmission experiment, before any propagation.

The phantom lives on the simulation grid, ``simulation.grid_upsample`` times finer than the
reconstruction grid; the ground truth is the phantom block-averaged to the reconstruction grid.
Coarse pixel i is the block of fine pixels [u i, u i + u) in the object, the probe window and the
detector alike. Kinds that are not scanned (``kind(...).scanned`` False: CDI, full field) are lit
by one plane wave over the whole field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench.data.dataset import Geometry
from cdibench.data.spec import DatasetSpec
from cdibench.kinds import kind
from cdibench.phantoms import Phantom, make_phantom
from cdibench.physics import probes, scans
from cdibench.physics.fft import fourier_shift
from cdibench.physics.forward import fourier_upsample
from cdibench.physics.tomography import angles_rad


@dataclass(frozen=True)
class Sampling:
    """Derived sampling of one simulation: reconstruction pixel, fine factors, probe window."""

    pixel_m: float
    upsample: int
    sub_slices: int
    window: tuple[int, int]

    @property
    def fine_pixel_m(self) -> float:
        return self.pixel_m / self.upsample


@dataclass(frozen=True)
class Scene:
    """What the forward model and the dataset need of one transmission experiment.

    fine: the phantom on the simulation grid; delta, beta: float32 (n_z, n_y, n_x), its truth on
    the reconstruction grid; support: bool (n_y, n_x) for kinds with a known support, else None;
    probe: complex64 (n_modes, w_y, w_x), the true probe on the reconstruction grid (power =
    photons); truth_object: complex64 (n_y, n_x), :func:`probe_free_object`; recorded_px and
    true_px: float64 (n_angles, n_positions, 2), window corners as recorded and as true (after the
    position errors); angles_rad: float64 (n_angles,).
    """

    sampling: Sampling
    fine: Phantom
    delta: np.ndarray
    beta: np.ndarray
    support: np.ndarray | None
    probe: np.ndarray
    truth_object: np.ndarray
    recorded_px: np.ndarray
    true_px: np.ndarray
    angles_rad: np.ndarray

    @property
    def object_shape(self) -> tuple[int, int]:
        return self.delta.shape[1:]


def make_scene(spec: DatasetSpec, streams: dict[str, np.random.Generator]) -> Scene:
    """The scene of ``spec``: draws the phantom ("phantom"), the scan ("scan") and the position
    errors ("errors") from ``streams`` (cdibench.simulation.seeds.seed_streams)."""
    samp = Sampling(spec.geometry.object_pixel, spec.simulation.grid_upsample, spec.simulation.slices_per_voxel,
                    window(spec))
    fine = fine_phantom(spec, samp, streams["phantom"])
    delta, beta = coarse_truth(fine, samp.upsample)
    object_shape = delta.shape[1:]
    support = cdi_support(spec.cdi, object_shape) if kind(spec.kind).support else None
    probe = true_probe(spec, samp, support)
    probes.check_probe_fits(probe, object_shape, "phantom.shape_px")
    recorded, true_px = scan_positions(spec, samp, object_shape, streams)
    n_angles = spec.tomography.n_angles
    angles = angles_rad(n_angles, spec.tomography.range_deg) if n_angles > 1 else np.zeros(1)
    return Scene(samp, fine, delta, beta, support, probe, probe_free_object(fine, samp.upsample, support),
                 recorded, true_px, angles)


def dataset_geometry(spec: DatasetSpec, samp: Sampling) -> Geometry:
    """The dataset's geometry: the distance and object pixel the forward models use (a cone beam's
    effective ones, z2 / M and detector pixel / M: the simulator propagates its plane-wave
    equivalent, cdibench.data.dataset.fresnel_scaling), a cone beam's physical z1 and z2 kept."""
    geo = spec.geometry
    cone = geo.focus_to_sample_m is not None
    return Geometry(energy_kev=geo.energy_kev, distance_m=geo.effective_distance_m,
                    detector_pixel_m=geo.detector_pixel, object_pixel_m=samp.pixel_m, detection=geo.detection,
                    focus_to_sample_m=geo.focus_to_sample_m if cone else 0.0,
                    sample_to_detector_m=geo.distance_m if cone else 0.0)


def window(spec: DatasetSpec) -> tuple[int, int]:
    """The probe window (n, n), n = geometry.pattern_px; kinds that are not scanned image the whole
    field, so their phantom must be (n_z, n, n)."""
    if not kind(spec.kind).scanned:
        n_y, n_x = spec.phantom.shape_px[1:]
        if (n_y, n_x) != (spec.geometry.pattern_px,) * 2:
            raise ValueError(f"phantom.shape_px = {list(spec.phantom.shape_px)} is invalid: kind "
                             f"{spec.kind!r} images the whole field, expected [n_z, "
                             f"{spec.geometry.pattern_px}, {spec.geometry.pattern_px}] (geometry.pattern_px)")
    return (spec.geometry.pattern_px,) * 2


def fine_phantom(spec: DatasetSpec, samp: Sampling, rng: np.random.Generator) -> Phantom:
    """The phantom on the simulation grid: (n_z u, n_y u, n_x u), one slice kept for thin phantoms."""
    n_z, n_y, n_x = spec.phantom.shape_px
    u = samp.upsample
    shape = (n_z * u if n_z > 1 else 1, n_y * u, n_x * u)
    return make_phantom(spec.phantom.type, spec.phantom.params, shape, samp.pixel_m / u,
                        spec.geometry.energy_kev, rng)


def coarse_truth(fine: Phantom, upsample: int) -> tuple[np.ndarray, np.ndarray]:
    """Block-average the fine phantom to the reconstruction grid, preserving projected delta, beta.

    Thin (one-slice) phantoms keep one slice whose thickness grows by ``upsample``: divide by it.
    """
    def reduce(vol):
        n_z, n_y, n_x = vol.shape
        u_z = upsample if n_z > 1 else 1
        blocks = vol.reshape(n_z // u_z, u_z, n_y // upsample, upsample, n_x // upsample, upsample)
        scale = 1.0 / upsample if n_z == 1 else 1.0
        return (blocks.mean(axis=(1, 3, 5), dtype=np.float64) * scale).astype(np.float32)
    return reduce(fine.delta), reduce(fine.beta)


def probe_free_object(fine: Phantom, upsample: int, support: np.ndarray | None) -> np.ndarray:
    """Ground-truth thin object on the reconstruction grid: the projection transmission of the
    block-averaged phantom (times the support for CDI), complex64 (n_y, n_x)."""
    delta, beta = coarse_truth(fine, upsample)
    coarse = Phantom(delta, beta, fine.voxel_size_m * upsample, fine.energy_kev)
    obj = coarse.transmission()
    return (obj * support).astype(np.complex64) if support is not None else obj


def cdi_support(config, shape: tuple[int, int]) -> np.ndarray:
    """Known support, bool (n_y, n_x), centred; a triangle is not centrosymmetric."""
    n_y, n_x = shape
    y = np.arange(n_y)[:, None] - n_y // 2 + 0.5
    x = np.arange(n_x)[None, :] - n_x // 2 + 0.5
    half = config.support_fraction * min(shape) / 2
    if config.support_shape == "disk":
        return x**2 + y**2 <= half**2
    if config.support_shape == "square":
        return (np.abs(x) <= half) & (np.abs(y) <= half)
    # right triangle with its legs on the top and left of the support box
    u, v = (x + half) / (2 * half), (y + half) / (2 * half)
    return (u >= 0) & (v >= 0) & (u + v <= 1)


def true_probe(spec: DatasetSpec, samp: Sampling, support: np.ndarray | None) -> np.ndarray:
    """True probe modes at the reconstruction grid, complex64 (n_modes, w_y, w_x), power = photons;
    a plane wave over the support (or the whole field) for kinds that are not scanned."""
    photons = spec.noise.photons_per_frame
    if not kind(spec.kind).scanned:
        lit = support.sum() if support is not None else np.prod(samp.window)
        return np.full((1,) + samp.window, np.sqrt(photons / lit), dtype=np.complex64)
    probe = probes.make_probe(spec.probe, samp.window, samp.pixel_m, spec.geometry.energy_kev)
    return (probe * np.float32(np.sqrt(photons))).astype(np.complex64)


def fine_probe(probe: np.ndarray, samp: Sampling) -> np.ndarray:
    """Probe on the fine grid, same total power.

    Coarse pixel i is centred on fine pixel u i + (u - 1) / 2; band-limited interpolation puts
    coarse sample m on fine sample u m, hence the shift by (u - 1) / 2 fine pixels.
    """
    u = samp.upsample
    if u == 1:
        return probe
    fine = fourier_shift(fourier_upsample(probe, u), np.full(2, (u - 1) / 2))
    return (fine / np.float32(u)).astype(np.complex64)


def probe_guess(spec: DatasetSpec, probe: np.ndarray, samp: Sampling) -> np.ndarray:
    """The probe solvers start from; the plane wave of kinds that are not scanned is known."""
    if not kind(spec.kind).scanned:
        return probe
    return probes.probe_guess(spec.probe, probe, samp.pixel_m, spec.geometry.energy_kev)


def scan_positions(spec: DatasetSpec, samp: Sampling, object_shape: tuple[int, int],
                   streams: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Window corners [object px], recorded and true, float64 (n_angles, n_positions, 2): the scan
    ("scan" stream; one window at (0, 0) for kinds that are not scanned), the same at every angle,
    then the position errors ("errors" stream). Both must keep the windows inside the object."""
    n_angles = spec.tomography.n_angles
    if not kind(spec.kind).scanned:
        recorded = np.zeros((n_angles, 1, 2))
    else:
        offsets = scans.scan_offsets_px(spec.scan, samp.pixel_m, streams["scan"])
        one = scans.top_left_positions(offsets, samp.window, object_shape)
        recorded = np.broadcast_to(one, (n_angles,) + one.shape).copy()
    scans.check_positions_inside(recorded.reshape(-1, 2), samp.window, object_shape, "positions_px")
    true_px = scans.jitter_positions(recorded, spec.errors.position_jitter_rms_px, streams["errors"])
    scans.check_positions_inside(true_px.reshape(-1, 2), samp.window, object_shape,
                                 "positions_px (true, after errors.position_jitter_rms_px)")
    return recorded, true_px
