"""The transmission simulator: thin and volume kinds (CDI, ptychography, multislice, full field).

The scene (cdibench.simulation.scene) is propagated on the fine grid: multislice through the
(rotated) phantom, ``simulation.slices_per_voxel`` steps per voxel, ``POSITION_CHUNK`` positions at
a time, then far-field or near-field detection at every spectral line; the measurement tail
(cdibench.simulation.measurement) turns the noise-free intensities into counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from cdibench import units
from cdibench.data.dataset import Dataset, GroundTruth
from cdibench.data.spec import DatasetSpec
from cdibench.kinds import kind
from cdibench.phantoms import Phantom
from cdibench.physics import coherence
from cdibench.physics.forward import (
    farfield_intensity,
    fourier_upsample,
    nearfield_intensity,
)
from cdibench.physics.multislice import multislice, slice_transmissions
from cdibench.physics.propagators import angular_spectrum_kernel, propagate
from cdibench.physics.ptychography import (
    beam_frame_kernels,
    shifted_probes,
    split_positions,
)
from cdibench.physics.tomography import rotate_volume, spline_coefficients
from cdibench.provenance import provenance
from cdibench.simulation.measurement import measure
from cdibench.simulation.scene import (
    Sampling,
    Scene,
    dataset_geometry,
    fine_probe,
    make_scene,
    probe_guess,
)
from cdibench.simulation.seeds import seed_streams

POSITION_CHUNK = 16


def simulate_transmission(spec: DatasetSpec, progress: bool = True, timings: dict | None = None) -> Dataset:
    """Simulate the thin or volume experiment of ``spec``; deterministic in ``spec.seed``.

    timings: if given, receives ``forward_s``, the wall time of the noise-free forward model (what
    cdibench.harness.floor.simulator_fft_plan counts), kept out of the dataset so files stay reproducible."""
    streams = seed_streams(spec.seed)
    scene = make_scene(spec, streams)
    expected = _forward(spec, scene, progress, timings)
    counts, mask, flux = measure(expected, spec, streams)
    samp = scene.sampling
    truth = GroundTruth(delta=scene.delta, beta=scene.beta, voxel_size_m=samp.pixel_m, object=scene.truth_object,
                        probe=scene.probe, positions_px=scene.true_px, flux_scale=flux)
    return Dataset(kind=spec.kind, intensities=counts, positions_px=scene.recorded_px,
                   probe_guess=probe_guess(spec, scene.probe, samp), mask=mask,
                   geometry=dataset_geometry(spec, samp),
                   angles_rad=scene.angles_rad, object_shape=tuple(scene.object_shape), support=scene.support,
                   truth=truth, spec_toml=spec.to_toml(), seed=spec.seed, provenance=provenance())


def _forward(spec: DatasetSpec, scene: Scene, progress: bool, timings: dict | None) -> np.ndarray:
    """Noise-free photons per pixel of the scene, float32 (n_angles, n_positions, n_y, n_x).

    A known support (CDI) is one exit wave, probe x transmission x support, with no propagation
    inside the sample. A volume lit whole (full field) is padded by ``simulation.pad_px`` vacuum
    pixels against FFT wrap-around, and the padding is cropped from the intensities."""
    samp, fine = scene.sampling, scene.fine
    probe = fine_probe(scene.probe, samp)
    exit_override = None
    if scene.support is not None:
        fine_support = fourier_upsample(scene.support[None].astype(np.complex64), samp.upsample).real > 0.5
        exit_override = (probe * fine.transmission() * fine_support)[None]
    traits = kind(spec.kind)
    pad = spec.simulation.pad_px if not (traits.scanned or traits.thin) else 0
    if pad:
        fine_pad = pad * samp.upsample
        fine = _pad(fine, fine_pad)
        probe = np.pad(probe, ((0, 0), (fine_pad, fine_pad), (fine_pad, fine_pad)), constant_values=probe.flat[0])
    start = time.perf_counter()
    expected = _expected_intensities(spec, fine, probe, scene.true_px * samp.upsample, samp, scene.angles_rad,
                                     exit_override, progress)
    if timings is not None:
        timings["forward_s"] = time.perf_counter() - start
    return expected[..., pad:-pad, pad:-pad] if pad else expected


def _pad(phantom: Phantom, pad: int) -> Phantom:
    widths = ((0, 0), (pad, pad), (pad, pad))
    return Phantom(np.pad(phantom.delta, widths), np.pad(phantom.beta, widths), phantom.voxel_size_m,
                   phantom.energy_kev, phantom.name)


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


def _expected_intensities(spec, phantom, probe, positions, samp, angles, exit_override=None, progress=True):
    """Noise-free photons per pixel, float32 (n_angles, n_pos, n_y, n_x), spectrum included."""
    order = spec.simulation.rotation_order
    coefficients = ((spline_coefficients(phantom.delta, order), spline_coefficients(phantom.beta, order))
                    if order > 1 and np.any(angles) else (None, None))
    out = []
    rotations = _rotations(phantom, angles, order, coefficients)
    for a, rotated in enumerate(tqdm(rotations, total=len(angles), desc=f"simulate {spec.name}", leave=False,
                                     disable=not progress or len(angles) < 4)):
        if spec.simulation.projection_approximation:
            rotated = _projected(rotated)
        out.append(_one_angle(spec, rotated, probe, positions[a], samp, exit_override))
    return np.stack(out)


def _beam_frame(kernel, positions, chunk: int, waves):
    """The detector kernel of chunk ``chunk``'s object-frame waves: shifted back by their positions'
    fractions (physics.ptychography.beam_frame_kernels): the probe stays fixed, the object moves."""
    fractions = split_positions(positions[chunk * POSITION_CHUNK:][:len(waves)])[1]
    return beam_frame_kernels(kernel, fractions, waves.shape[-2:])


def _one_angle(spec, phantom, probe, positions, samp, exit_override) -> np.ndarray:
    """Noise-free photons of one angle, float32 (n_pos, n_y, n_x): far field at the central energy,
    rescaled to every spectral line; near field propagated at every line, in the beam's frame (_beam_frame)."""
    energies, weights = coherence.spectrum(spec.geometry.energy_kev, spec.coherence)
    far = spec.geometry.detection == "far"
    e0 = spec.geometry.energy_kev
    scratch = exit_override is None  # the simulator's own chunk buffers may be overwritten; an override not
    per_energy = [(e0, 1.0)] if far else list(zip(energies, weights))
    total = 0.0
    for energy, weight in per_energy:
        ph = phantom.at_energy(energy) if energy != e0 else phantom
        chunks = [exit_override] if exit_override is not None else _thick_exit_waves(ph, probe, positions, samp, energy)
        if far:
            total = np.concatenate([farfield_intensity(w, samp.upsample, spec.detector.binning, overwrite=scratch)
                                    for w in chunks])
        else:
            kernel = (_kernel(probe.shape[-2:], samp.fine_pixel_m, energy, spec.geometry.effective_distance_m)
                      if spec.geometry.distance_m > 0 else None)
            total = total + weight * np.concatenate([nearfield_intensity(w, _beam_frame(kernel, positions, k, w),
                                                                         samp.upsample, overwrite=scratch)
                                                     for k, w in enumerate(chunks)])
    if far and len(energies) > 1:
        lam0 = units.wavelength_m(e0)
        total = sum(w * coherence.rescale_farfield(total, lam0 / units.wavelength_m(e))
                    for e, w in zip(energies, weights))
    return np.asarray(total, dtype=np.float32)
