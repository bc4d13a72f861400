"""The simulator: DatasetSpec -> Dataset (phantom, probe, scan, physics, detector, noise). Numpy only.

The simulator may work on a finer grid than the reconstructions (``simulation.grid_upsample``) and
with more multislice steps (``simulation.slices_per_voxel``); the ground truth it stores is the
phantom block-averaged to the reconstruction grid. Random streams are children of
``SeedSequence(spec.seed)``, so the same spec and seed give bit-identical data.
"""

from __future__ import annotations

import time

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from cdibench import units
from cdibench.data.dataset import Dataset, Geometry, GroundTruth
from cdibench.phantoms import Phantom, make_phantom
from cdibench.physics import coherence, detector, noise, probes, scans
from cdibench.physics.fft import fourier_shift
from cdibench.physics.forward import farfield_intensity, fourier_upsample, nearfield_intensity
from cdibench.physics.multislice import multislice, slice_transmissions
from cdibench.physics.propagators import angular_spectrum_kernel, propagate
from cdibench.physics.ptychography import shifted_probes, split_positions
from cdibench.physics.tomography import angles_rad, rotate_volume, spline_coefficients
from cdibench.harness.provenance import provenance
from cdibench.data.spec import DatasetSpec

_STREAMS = ("phantom", "scan", "errors", "noise", "flux")
POSITION_CHUNK = 16


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


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def _window(spec: DatasetSpec) -> tuple[int, int]:
    if spec.kind in ("cdi", "fullfield-tomo"):
        n_y, n_x = spec.phantom.shape_px[1:]
        if (n_y, n_x) != (spec.geometry.pattern_px,) * 2:
            raise ValueError(f"phantom.shape_px = {list(spec.phantom.shape_px)} is invalid: kind "
                             f"{spec.kind!r} images the whole field, expected [n_z, "
                             f"{spec.geometry.pattern_px}, {spec.geometry.pattern_px}] (geometry.pattern_px)")
    return (spec.geometry.pattern_px,) * 2


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


def _phantom(spec: DatasetSpec, pixel_m: float, upsample: int, rng) -> Phantom:
    n_z, n_y, n_x = spec.phantom.shape_px
    shape = (n_z * upsample if n_z > 1 else 1, n_y * upsample, n_x * upsample)
    return make_phantom(spec.phantom.type, spec.phantom.params, shape, pixel_m / upsample,
                        spec.geometry.energy_kev, rng)


def _cdi_support(config, shape: tuple[int, int]) -> np.ndarray:
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


def _probe(spec: DatasetSpec, samp: Sampling, support: np.ndarray | None) -> np.ndarray:
    """True probe modes at the reconstruction grid, complex64 (n_modes, w_y, w_x), power = photons."""
    photons = spec.noise.photons_per_frame
    if spec.kind in ("cdi", "fullfield-tomo"):
        lit = support.sum() if support is not None else np.prod(samp.window)
        return np.full((1,) + samp.window, np.sqrt(photons / lit), dtype=np.complex64)
    probe = probes.make_probe(spec.probe, samp.window, samp.pixel_m, spec.geometry.energy_kev)
    return (probe * np.float32(np.sqrt(photons))).astype(np.complex64)


def _fine_probe(probe: np.ndarray, samp: Sampling) -> np.ndarray:
    """Probe on the fine grid, same total power.

    Coarse pixel i is the block of fine pixels [u i, u i + u), centred on u i + (u - 1) / 2, in the
    object, the probe window and the detector alike; band-limited interpolation puts coarse sample m
    on fine sample u m, hence the shift by (u - 1) / 2 fine pixels.
    """
    u = samp.upsample
    if u == 1:
        return probe
    fine = fourier_shift(fourier_upsample(probe, u), np.full(2, (u - 1) / 2))
    return (fine / np.float32(u)).astype(np.complex64)


def _kernel(shape, pixel_m, energy_kev, distance_m):
    return angular_spectrum_kernel(shape, pixel_m, float(units.wavelength_m(energy_kev)), distance_m)


def _thick_exit_waves(phantom: Phantom, probe: np.ndarray, positions_px: np.ndarray, samp: Sampling,
                      energy_kev: float) -> Iterator[np.ndarray]:
    """Multislice exit waves at the plane of the last coarse slice, complex64 (c, m, w, w) (fine),
    ``POSITION_CHUNK`` positions at a time: the detector takes each chunk while it is in cache.

    Every chunk is computed in one reused buffer (fresh arrays of this size cost as much in page
    faults as their FFTs): consume a chunk, or copy it, before asking for the next."""
    steps = (samp.upsample if phantom.shape[0] > 1 else 1) * samp.sub_slices  # per coarse voxel
    dz = phantom.voxel_size_m / samp.sub_slices
    window = probe.shape[-2:]
    trans = slice_transmissions(phantom.delta, phantom.beta, dz, energy_kev)
    kernel = _kernel(window, samp.fine_pixel_m, energy_kev, dz)
    # The first/last fine steps sit (steps - 1) / 2 steps outside the coarse first/last slice planes.
    offset_m = (steps - 1) / 2 * dz
    corners, fractions = split_positions(positions_px)
    buffer = np.empty((min(POSITION_CHUNK, len(positions_px)),) + probe.shape, np.complex64)
    for start in range(0, len(positions_px), POSITION_CHUNK):
        sl = slice(start, start + POSITION_CHUNK)
        wave = shifted_probes(probe, fractions[sl], out=buffer[:len(corners[sl])])
        if offset_m:
            wave = propagate(wave, _kernel(window, samp.fine_pixel_m, energy_kev, -offset_m), overwrite=True)
        wave = multislice(wave, trans, kernel, repeats=samp.sub_slices, overwrite=True, corners=corners[sl])
        if offset_m:
            wave = propagate(wave, _kernel(window, samp.fine_pixel_m, energy_kev, offset_m), overwrite=True)
        yield wave


def _rotated(phantom: Phantom, angle: float, order: int, coefficients) -> Phantom:
    """coefficients: (delta's, beta's) tomography.spline_coefficients, computed once for all angles."""
    return Phantom(rotate_volume(phantom.delta, angle, order, coefficients[0]),
                   rotate_volume(phantom.beta, angle, order, coefficients[1]),
                   phantom.voxel_size_m, phantom.energy_kev, phantom.name)


def _rotations(phantom: Phantom, angles, order: int, coefficients) -> Iterator[Phantom]:
    """The phantom rotated to each angle in turn. The next angle's rotation runs in the background
    while the caller simulates this one: a frame's small FFTs use one core, so the rotation gets the
    other (measured 1.7 -> 1.3 s, quick-fullfield-tomo). Two rotated volumes are held at once."""
    def rotate(angle):
        return _rotated(phantom, angle, order, coefficients) if angle else phantom

    with ThreadPoolExecutor(1) as ahead:
        pending = ahead.submit(rotate, angles[0]) if len(angles) else None
        for k in range(len(angles)):
            current = pending.result()
            if k + 1 < len(angles):
                pending = ahead.submit(rotate, angles[k + 1])
            yield current


def _projected(phantom: Phantom) -> Phantom:
    """One slice carrying the whole projected delta, beta (same transmission, no inner diffraction)."""
    return Phantom(phantom.delta.sum(axis=0, keepdims=True), phantom.beta.sum(axis=0, keepdims=True),
                   phantom.voxel_size_m, phantom.energy_kev, phantom.name)


def _pad(phantom: Phantom, pad: int) -> Phantom:
    widths = ((0, 0), (pad, pad), (pad, pad))
    return Phantom(np.pad(phantom.delta, widths), np.pad(phantom.beta, widths), phantom.voxel_size_m,
                   phantom.energy_kev, phantom.name)


def _expected_intensities(spec, phantom, probe, positions, samp, angles, exit_override=None, progress=True):
    """Noise-free photons per pixel, float32 (n_angles, n_pos, n_y, n_x), spectrum included."""
    energies, weights = coherence.spectrum(spec.geometry.energy_kev, spec.coherence)
    far = spec.geometry.detection == "far"
    e0 = spec.geometry.energy_kev
    scratch = exit_override is None  # the simulator's own chunk buffers may be overwritten; an override not
    order = spec.simulation.rotation_order
    coefficients = ((spline_coefficients(phantom.delta, order), spline_coefficients(phantom.beta, order))
                    if order > 1 and np.any(angles) else (None, None))
    out = []
    rotations = _rotations(phantom, angles, order, coefficients)
    for a, rotated in enumerate(tqdm(rotations, total=len(angles), desc=f"simulate {spec.name}", leave=False,
                                     disable=not progress or len(angles) < 4)):
        if spec.simulation.projection_approximation:
            rotated = _projected(rotated)
        per_energy = [(e0, 1.0)] if far else list(zip(energies, weights))
        total = 0.0
        for energy, weight in per_energy:
            ph = rotated.at_energy(energy) if energy != e0 else rotated
            chunks = [exit_override] if exit_override is not None else _thick_exit_waves(
                ph, probe, positions[a], samp, energy)
            if far:
                total = np.concatenate([farfield_intensity(w, samp.upsample, spec.detector.binning, overwrite=scratch)
                                        for w in chunks])
            else:
                kernel = (_kernel(probe.shape[-2:], samp.fine_pixel_m, energy, spec.geometry.distance_m)
                          if spec.geometry.distance_m > 0 else None)
                total = total + weight * np.concatenate([nearfield_intensity(w, kernel, samp.upsample, overwrite=scratch)
                                                         for w in chunks])
        if far and len(energies) > 1:
            lam0 = units.wavelength_m(e0)
            total = sum(w * coherence.rescale_farfield(total, lam0 / units.wavelength_m(e))
                        for e, w in zip(energies, weights))
        out.append(np.asarray(total, dtype=np.float32))
    return np.stack(out)


def simulate(spec: DatasetSpec, progress: bool = True, timings: dict | None = None) -> Dataset:
    """Simulate the experiment described by ``spec``; deterministic in ``spec.seed``.

    timings: if given, receives ``forward_s``, the wall time of the noise-free forward model (what
    cdibench.harness.floor.simulator_fft_plan counts), kept out of the dataset so files stay reproducible."""
    if spec.kind == "bragg":  # crystal, Bragg geometry: cdibench.simulation.bragg
        from cdibench.simulation.bragg import simulate_bragg
        return simulate_bragg(spec, progress)
    rng = _rngs(spec.seed)
    geo = spec.geometry
    samp = Sampling(geo.object_pixel, spec.simulation.grid_upsample, spec.simulation.slices_per_voxel,
                    _window(spec))
    fine = _phantom(spec, samp.pixel_m, samp.upsample, rng["phantom"])
    delta, beta = coarse_truth(fine, samp.upsample)
    object_shape = delta.shape[1:]
    support = _cdi_support(spec.cdi, object_shape) if spec.kind == "cdi" else None

    probe = _probe(spec, samp, support)
    probes.check_probe_fits(probe, object_shape, "phantom.shape_px")
    n_angles = spec.tomography.n_angles
    if spec.kind in ("cdi", "fullfield-tomo"):
        recorded = np.zeros((n_angles, 1, 2))
    else:
        offsets = scans.scan_offsets_px(spec.scan, samp.pixel_m, rng["scan"])
        one = scans.top_left_positions(offsets, samp.window, object_shape)
        recorded = np.broadcast_to(one, (n_angles,) + one.shape).copy()
    scans.check_positions_inside(recorded.reshape(-1, 2), samp.window, object_shape, "positions_px")
    true_pos = scans.jitter_positions(recorded, spec.errors.position_jitter_rms_px, rng["errors"])
    scans.check_positions_inside(true_pos.reshape(-1, 2), samp.window, object_shape,
                                 "positions_px (true, after errors.position_jitter_rms_px)")

    angles = angles_rad(n_angles, spec.tomography.range_deg) if n_angles > 1 else np.zeros(1)
    fine_probe = _fine_probe(probe, samp)
    fine_pos = true_pos * samp.upsample
    exit_override = None
    if spec.kind == "cdi":
        fine_support = fourier_upsample(support[None].astype(np.complex64), samp.upsample).real > 0.5
        exit_override = (fine_probe * fine.transmission() * fine_support)[None]
    truth_object = probe_free_object(fine, samp.upsample, support)
    if spec.kind == "fullfield-tomo" and spec.simulation.pad_px:
        pad = spec.simulation.pad_px * samp.upsample
        fine = _pad(fine, pad)
        fine_probe = np.pad(fine_probe, ((0, 0), (pad, pad), (pad, pad)), constant_values=fine_probe.flat[0])
    start = time.perf_counter()
    expected = _expected_intensities(spec, fine, fine_probe, fine_pos, samp, angles, exit_override, progress)
    if timings is not None:
        timings["forward_s"] = time.perf_counter() - start
    if spec.kind == "fullfield-tomo" and spec.simulation.pad_px:
        p = spec.simulation.pad_px
        expected = expected[..., p:-p, p:-p]

    n_frames = n_angles * expected.shape[1]
    flux = noise.flux_factors(n_frames, spec.noise.flux_fluctuation_rms, rng["flux"])
    frames = expected.reshape((n_frames,) + expected.shape[2:]) * flux[:, None, None]
    counts = noise.apply_noise(frames, spec.noise, rng["noise"]).reshape(expected.shape)
    static_mask = detector.detector_mask(spec.detector, expected.shape[-2:])
    counts, mask = detector.apply_detector(counts, spec.detector, static_mask)

    truth = GroundTruth(delta=delta, beta=beta, voxel_size_m=samp.pixel_m, object=truth_object,
                        probe=probe, positions_px=true_pos)
    geometry = Geometry(energy_kev=geo.energy_kev, distance_m=geo.distance_m,
                        detector_pixel_m=geo.detector_pixel, object_pixel_m=samp.pixel_m,
                        detection=geo.detection)
    return Dataset(kind=spec.kind, intensities=counts.astype(np.float32), positions_px=recorded,
                   probe_guess=_guess(spec, probe, samp),
                   mask=mask, geometry=geometry, angles_rad=angles, object_shape=tuple(object_shape),
                   support=support, truth=truth, spec_toml=spec.to_toml(), seed=spec.seed,
                   provenance=provenance())


def _guess(spec: DatasetSpec, probe: np.ndarray, samp: Sampling) -> np.ndarray:
    """The probe solvers start from; the plane wave of CDI and full-field tomography is known."""
    if spec.kind in ("cdi", "fullfield-tomo"):
        return probe
    return probes.probe_guess(spec.probe, probe, samp.pixel_m, spec.geometry.energy_kev)


def probe_free_object(fine: Phantom, upsample: int, support: np.ndarray | None) -> np.ndarray:
    """Ground-truth thin object on the reconstruction grid: the projection transmission of the
    block-averaged phantom (times the support for CDI), complex64 (n_y, n_x)."""
    delta, beta = coarse_truth(fine, upsample)
    coarse = Phantom(delta, beta, fine.voxel_size_m * upsample, fine.energy_kev)
    obj = coarse.transmission()
    return (obj * support).astype(np.complex64) if support is not None else obj
