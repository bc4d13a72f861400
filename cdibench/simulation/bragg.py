"""The Bragg simulator: DatasetSpec of kind 'bragg' -> Dataset. Numpy only.

A crystal (``phantom.type = "crystal"``) on a grid ``simulation.grid_upsample`` times finer than the
reconstruction, a focused probe scanned in the plane perpendicular to the incident beam, and one
far-field pattern per (rocking angle, position), by the forward model of cdibench.physics.bragg;
then flux fluctuations, noise and the detector as for every other kind.

Photon budget: the detector sees only the Bragg-diffracted photons, so for kind 'bragg'
``noise.photons_per_frame`` is the number of diffracted photons in the brightest noise-free frame
(the incident flux and the crystal's scattering efficiency are lumped into it); the true probe
carries the matching scale, so the ground-truth crystal keeps |rho| = occupancy <= 1.

Bandwidth (``coherence``): each spectral line samples the crystal's transform at q = s (G + dq_det)
with s = E / E0, i.e. an extra reciprocal offset (s - 1) G and detector coordinates scaled by s
(``coherence.rescale_farfield``); the energy dependence of the probe and of the density is neglected.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from cdibench.config import require
from cdibench.data.dataset import Dataset, Geometry, GroundTruth
from cdibench.data.spec import DatasetSpec
from cdibench.kinds import kind
from cdibench.phantoms.crystal import crystal_fields
from cdibench.phantoms.materials import material
from cdibench.phantoms.registry import phantom_config
from cdibench.physics import coherence, probes, scans
from cdibench.physics.bragg import (
    BraggGeometry,
    block_mean,
    crystal_density,
    patterns,
    rocking_ramp,
    sheared_probes,
)
from cdibench.provenance import provenance
from cdibench.simulation.measurement import measure
from cdibench.simulation.seeds import seed_streams


def bragg_geometry(spec: DatasetSpec) -> BraggGeometry:
    """The spec's Bragg geometry: energy, 2theta (from bragg.d_spacing_m or two_theta_deg), voxel."""
    energy = spec.geometry.energy_kev
    return BraggGeometry(energy, spec.bragg.two_theta_rad(energy), spec.geometry.object_pixel)


def _check_burgers(config, geometry: BraggGeometry) -> None:
    """A dislocation's cut carries a jump G . b: it must be a multiple of 2 pi (b a lattice vector)."""
    b = np.asarray(config.dislocation_burgers_m, dtype=np.float64)
    if not b.any():
        return
    turns = float(geometry.g_vector() @ b / (2 * np.pi))
    example = np.round(geometry.d_spacing_m * geometry.g_hat, 15).tolist()
    require(abs(turns - round(turns)) < 1e-3, "phantom.dislocation_burgers_m", tuple(b.tolist()),
            f"a lattice translation for this reflection, G . b a multiple of 2 pi (got G . b / 2 pi = "
            f"{turns:.4f}); e.g. d_hkl g_hat = {example} m (z, y, x)")


def _check_positions(positions: np.ndarray, n: int, name: str) -> None:
    """Probe centres must lie in the field: -(n // 2) <= p <= n - 1 - n // 2 on both axes."""
    low, high = -(n // 2), n - 1 - n // 2
    worst = np.unravel_index(int(np.argmax(np.maximum(low - positions, positions - high))), positions.shape)
    value = positions[worst]
    require(low <= value <= high, name, float(value), f"probe-centre offsets in [{low}, {high}] px "
            f"(the field of geometry.pattern_px = {n}); reduce scan.step_px or the scan shape")


def _expected(spec, rho, probe, positions, angles, geometry, progress, chunk: int = 8) -> np.ndarray:
    """Noise-free intensities, float64 (n_angles, n_pos, n, n), for a probe of unit power.

    Position chunks outside, angles inside: the probe columns of a chunk are built once when the
    positions are the same at every angle (no position jitter)."""
    shape = spec.phantom.shape_px
    u, binning = spec.simulation.grid_upsample, spec.detector.binning
    e0 = spec.geometry.energy_kev
    energies, weights = coherence.spectrum(e0, spec.coherence)
    ramps = [[(e / e0, w, rocking_ramp(dtheta, shape, geometry, u, -(e / e0 - 1) * geometry.g_vector()))
              for e, w in zip(energies, weights)] for dtheta in angles]
    same = bool(np.all(positions == positions[:1]))
    n = spec.geometry.pattern_px
    out = np.zeros((len(angles), positions.shape[1], n, n))
    starts = range(0, positions.shape[1], chunk)
    for start in tqdm(starts, desc=f"simulate {spec.name}", leave=False, disable=not progress or len(starts) < 4):
        sl = slice(start, start + chunk)
        shared = sheared_probes(probe, positions[0, sl], shape, geometry, u) if same else None
        for a in range(len(angles)):
            columns = shared if same else sheared_probes(probe, positions[a, sl], shape, geometry, u)
            for s, weight, ramp in ramps[a]:
                pattern = patterns(rho, columns, ramp, u, binning)
                if len(energies) > 1:
                    pattern = coherence.rescale_farfield(pattern, s)
                out[a, sl] += weight * pattern
    return out


def simulate_bragg(spec: DatasetSpec, progress: bool = True, timings: dict | None = None) -> Dataset:
    """Simulate Bragg ptychography of ``spec`` (kind 'bragg'); deterministic in ``spec.seed``.

    timings: if given, receives ``forward_s``, the wall time of the noise-free forward model."""
    require(kind(spec.kind).crystal, "kind", spec.kind, "a crystal kind for simulate_bragg")
    streams = seed_streams(spec.seed)
    geometry = bragg_geometry(spec)
    u, pixel = spec.simulation.grid_upsample, geometry.voxel_m
    config = phantom_config("crystal", spec.phantom.params)
    _check_burgers(config, geometry)
    occ, disp = crystal_fields(config, tuple(k * u for k in spec.phantom.shape_px), pixel / u)
    rho = crystal_density(occ, disp, geometry)
    index = material(config.material, config.material_density_g_cm3, "phantom.material").index(spec.geometry.energy_kev)
    probe = probes.make_probe(spec.probe, (spec.geometry.pattern_px,) * 2, pixel, spec.geometry.energy_kev)
    angles = spec.bragg.rocking_angles_rad()
    recorded, true_pos = _scan_positions(spec, pixel, len(angles), streams)

    start = time.perf_counter()
    expected = _expected(spec, rho, probe, true_pos, angles, geometry, progress)
    if timings is not None:
        timings["forward_s"] = time.perf_counter() - start
    brightest = expected.sum(axis=(-2, -1)).max()
    require(brightest > 0, "phantom", "(crystal)", "a crystal the probe illuminates (all frames are dark)")
    gain = spec.noise.photons_per_frame / brightest
    expected = (expected * gain).astype(np.float32)
    probe = (probe * np.float32(np.sqrt(gain))).astype(np.complex64)
    counts, mask, flux = measure(expected, spec, streams)

    coarse_occ = block_mean(occ, u)
    truth = GroundTruth(delta=coarse_occ * np.float32(index[0]), beta=coarse_occ * np.float32(index[1]),
                        voxel_size_m=pixel, object=block_mean(rho, u), probe=probe, positions_px=true_pos,
                        flux_scale=flux)
    return _dataset(spec, geometry, truth, recorded, angles, counts, mask)


def _scan_positions(spec: DatasetSpec, pixel_m: float, n_angles: int,
                    streams: dict[str, np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Probe-centre offsets [px], recorded and true (after the position errors), float64
    (n_angles, n_positions, 2): the scan from the "scan" stream, its errors from "errors"."""
    n = spec.geometry.pattern_px
    offsets = scans.scan_offsets_px(spec.scan, pixel_m, streams["scan"])
    one = scans.top_left_positions(offsets, (n, n), (n, n))  # = offsets: window and field coincide
    recorded = np.broadcast_to(one, (n_angles,) + one.shape).copy()
    _check_positions(recorded, n, "positions_px")
    true_pos = scans.jitter_positions(recorded, spec.errors.position_jitter_rms_px, streams["errors"])
    _check_positions(true_pos, n, "positions_px (true, after errors.position_jitter_rms_px)")
    return recorded, true_pos


def _dataset(spec: DatasetSpec, geometry: BraggGeometry, truth: GroundTruth, recorded: np.ndarray,
             angles: np.ndarray, counts: np.ndarray, mask: np.ndarray) -> Dataset:
    """The Dataset of the simulation: counts float32 (n_angles, n_positions, n, n), the recorded
    offsets, the geometry with its 2theta, the probe guess and the truth."""
    geo, n = spec.geometry, spec.geometry.pattern_px
    geometry_out = Geometry(energy_kev=geo.energy_kev, distance_m=geo.distance_m,
                            detector_pixel_m=geo.detector_pixel, object_pixel_m=geometry.voxel_m, detection="far",
                            two_theta_rad=geometry.two_theta_rad)
    return Dataset(kind="bragg", intensities=counts, positions_px=recorded,
                   probe_guess=probes.probe_guess(spec.probe, truth.probe, geometry.voxel_m, geo.energy_kev),
                   mask=mask, geometry=geometry_out, angles_rad=np.asarray(angles, dtype=np.float64),
                   object_shape=(n, n), support=None, truth=truth, spec_toml=spec.to_toml(),
                   seed=spec.seed, provenance=provenance())
