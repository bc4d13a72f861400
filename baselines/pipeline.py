"""The conventional 3D pipeline for thick samples: 2D ptychography per angle, then tomography.

Du, Nashed, Kandel, Gursoy & Jacobsen, "Three dimensions, two microscopes, one code: automatic
differentiation for x-ray nanotomography beyond the depth of focus limit", Sci. Adv. 6 (2020):
each angle is reconstructed as a thin 2D object by ePIE (Maiden & Rodenburg 2009), the complex
transmission is refocused by angular-spectrum propagation from the exit plane to the rotation axis,
normalised against vacuum, phase-unwrapped, turned into projections of delta and beta, and each is
reconstructed by filtered back projection (Kak & Slaney ch. 3). With waves exp(+i k z), a slab of
index 1 - delta + i beta and thickness dz multiplies the field by exp(-i k dz (delta - i beta)), so

    sum_z delta = -phase(T) / (k dz),    sum_z beta = -ln|T| / (k dz),    k = 2 pi / wavelength.

Frame: the projections are the object arrays (n_oy, n_ox), rows = y (the rotation axis), columns =
x; the rotation axis is column n_ox // 2 (scikit-image's convention, see :mod:`baselines.fbp`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage
from skimage.restoration import unwrap_phase

from baselines import _checks
from baselines._propagate import transfer_function
from baselines.epie import PieRun, pie_estimate, pie_setup, pie_sweep
from baselines.fbp import FILTERS, fbp

_EPIE_OWN = ("intensities", "positions_px", "probe", "object_shape", "n_iter", "rng", "callback")


def angular_spectrum(field: np.ndarray, distance_m: float, wavelength_m: float,
                     pixel_size_m: float, pad_px: int = 0) -> np.ndarray:
    """Propagate complex field (..., n_y, n_x) by distance_m (negative: backwards) in free space.

    U(z + d) = IFFT[ FFT[U] H ],  H = exp(i d sqrt(k^2 - kx^2 - ky^2)) for kx^2 + ky^2 < k^2 and
    H = 0 for evanescent components (never amplified when d < 0), kx = 2 pi fftfreq(n_x, pixel)
    (Goodman, *Introduction to Fourier Optics*, 3rd ed., sec. 3.10). pad_px > 0 pads both spatial
    axes by pad_px per side with the edge values against wrap-around, then crops back.
    Even at d = 0 the evanescent part is removed (the result is the propagating part of U).
    Returns the same shape; complex64 stays complex64, otherwise complex128.
    """
    u = _checks.array("field", field, "iufc")
    if u.ndim < 2:
        _checks.fail("field", f"shape {u.shape}", "an array (..., n_y, n_x)")
    u = u.astype(np.complex64 if u.dtype in (np.complex64, np.float32) else np.complex128)
    distance = _real("distance_m", distance_m)
    wavelength = _positive("wavelength_m", wavelength_m)
    pixel = _positive("pixel_size_m", pixel_size_m)
    pad = _checks.integer("pad_px", pad_px, 0)
    if pad:
        u = np.pad(u, [(0, 0)] * (u.ndim - 2) + [(pad, pad)] * 2, mode="edge")
    transfer = transfer_function(u.shape[-2:], distance, wavelength, pixel)
    out = scipy.fft.ifft2(scipy.fft.fft2(u, workers=-1) * transfer.astype(u.dtype), workers=-1)
    return out[..., pad:out.shape[-2] - pad, pad:out.shape[-1] - pad] if pad else out


def normalise_transmission(transmission: np.ndarray, reference_mask: np.ndarray) -> np.ndarray:
    """Remove the global amplitude scale and phase that ptychography cannot fix on its own.

    T' = T / (s exp(i phi)), s = median |T| over the reference (vacuum) pixels, phi = arg of the
    mean of T over them, so vacuum becomes ~1. transmission: complex (n_y, n_x);
    reference_mask: bool (n_y, n_x) with >= 3 pixels. Returns complex, same dtype.
    """
    t = _checks.array("transmission", transmission, "c", ndim=2)
    ref = _reference(reference_mask, t.shape)
    scale = np.median(np.abs(t[ref]))
    if scale == 0:
        _checks.fail("transmission", "zero amplitude on the reference pixels", "vacuum ~ 1")
    return t * (np.exp(-1j * np.angle(t[ref].mean())) / scale).astype(t.dtype)


def projected_index(transmission: np.ndarray, reference_mask: np.ndarray, wavelength_m: float,
                    voxel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Projections (sums over voxels along the beam) of delta and beta from a transmission.

    The phase is unwrapped (``skimage.restoration.unwrap_phase``, Herraez et al. 2002) and the
    plane a + b y + c x fitted by least squares on the reference (vacuum) pixels is subtracted:
    the offset removes the 2 pi m of the unwrapping and any global phase, the slope the phase ramp
    that trades between object and probe when ePIE updates the probe. Then
    delta_proj = -phase / (k voxel), beta_proj = -ln(max(|T|, 1e-30)) / (k voxel).
    transmission: complex (n_y, n_x), vacuum ~1 (see :func:`normalise_transmission`);
    reference_mask: bool (n_y, n_x), >= 3 non-collinear pixels. Returns two float32 (n_y, n_x).
    """
    t = _checks.array("transmission", transmission, "c", ndim=2)
    ref = _reference(reference_mask, t.shape)
    k_voxel = 2 * np.pi / _positive("wavelength_m", wavelength_m) * _positive(
        "voxel_size_m", voxel_size_m)
    phase = unwrap_phase(np.angle(t).astype(np.float64))
    rows, cols = np.nonzero(ref)
    design = np.stack([np.ones(rows.size), rows, cols], axis=1)
    coeffs, _, rank, _ = np.linalg.lstsq(design, phase[ref], rcond=None)
    if rank < 3:
        _checks.fail("reference_mask", "collinear pixels", "pixels spanning a plane")
    y, x = np.indices(t.shape)
    phase -= coeffs[0] + coeffs[1] * y + coeffs[2] * x
    beta = -np.log(np.maximum(np.abs(t), 1e-30)) / k_voxel
    return (-phase / k_voxel).astype(np.float32), beta.astype(np.float32)


def illuminated_rim(probe: np.ndarray, positions_px: np.ndarray, object_shape: tuple[int, int],
                    rim_px: int = 2, threshold: float = 0.1) -> np.ndarray:
    """Default vacuum reference: the rim, rim_px pixels wide, of the well-lit region, where the
    scan's illumination L(r) = sum_j sum_modes |P(r - p_j)|^2 is >= threshold * max L.

    Assumes the sample lies inside the scanned field, so that the rim of the lit region is vacuum
    at every angle. probe: complex (n_modes, n_y, n_x); positions_px: (n_pos, 2) top-left
    (row, col), floored; object_shape: (n_oy, n_ox). Returns bool (n_oy, n_ox).
    """
    p = _checks.array("probe", probe, "fc", ndim=3)
    shape = _checks.shape2("object_shape", object_shape)
    pos = _checks.positions("positions_px", positions_px, p.shape[1:], shape)
    rim = _checks.integer("rim_px", rim_px, 1)
    level = _checks.in_range("threshold", threshold, 0.0, 1.0)
    corner = np.floor(pos).astype(np.int64)
    iy, ix = np.indices(p.shape[1:])
    flat = (corner[:, :1, None] + iy) * shape[1] + corner[:, 1:, None] + ix  # (n_pos, n_y, n_x)
    weight = np.broadcast_to((np.abs(p) ** 2).sum(0), flat.shape)
    light = np.bincount(flat.ravel(), weight.ravel(), minlength=shape[0] * shape[1])
    lit = light.reshape(shape) >= level * light.max()
    return lit & ~ndimage.binary_erosion(lit, iterations=rim, border_value=0)


@dataclass
class PtychoFbpRun:
    """A conventional reconstruction between its ePIE sweeps (:func:`ptycho_fbp_setup`,
    :func:`ptycho_fbp_sweep`, :func:`ptycho_fbp_finish`): one ePIE run per angle, each with its
    own child generator, the vacuum references, the optics (refocus_m, wavelength_m, voxel_size_m),
    the angles, the FBP filter and the ePIE errors per angle so far."""

    runs: list[PieRun]
    refs: list[np.ndarray]
    optics: tuple[float, float, float]
    angles: np.ndarray
    filter: str
    n_iter: int
    errors: list[list[float]]


def ptycho_fbp_setup(intensities, positions_px, probe, object_shape, angles_rad, wavelength_m, voxel_size_m,
                     n_iter=100, refocus_m=0.0, filter="ram-lak", rng=None, epie_kwargs=None,
                     vacuum_mask=None) -> PtychoFbpRun:
    """Validate the arguments of :func:`ptycho_fbp` (but the callback) and prepare every angle's
    ePIE data: everything before the sweeps."""
    data, pos, angles, shape, kwargs = _validate(intensities, positions_px, probe, object_shape,
                                                 angles_rad, filter, epie_kwargs)
    n_iter = _checks.integer("n_iter", n_iter, 1)
    optics = (_real("refocus_m", refocus_m), _positive("wavelength_m", wavelength_m),
              _positive("voxel_size_m", voxel_size_m))
    if vacuum_mask is not None:
        refs = [_reference(vacuum_mask, shape, "vacuum_mask")] * len(angles)
    else:
        refs = [_reference(illuminated_rim(probe, pos[a], shape), shape,
                           f"vacuum_mask (default: illuminated rim of angle {a})")
                for a in range(len(angles))]
    generators = _checks.generator(rng).spawn(len(angles))
    runs = [pie_setup("epie", data[a], pos[a], probe, shape, rng=generator, **kwargs)
            for a, generator in enumerate(generators)]
    return PtychoFbpRun(runs, refs, optics, angles, filter, n_iter, [[] for _ in runs])


def ptycho_fbp_sweep(run: PtychoFbpRun) -> float:
    """One ePIE sweep at every angle (the angles are independent) -> the mean of their errors."""
    for run_a, errors in zip(run.runs, run.errors):
        errors.append(pie_sweep(run_a))
    return float(np.mean([errors[-1] for errors in run.errors]))


def ptycho_fbp_finish(run: PtychoFbpRun, callback=None) -> dict:
    """Refocus, normalise and unwrap every angle's object, then FBP: the result of :func:`ptycho_fbp`.
    Consumes the per-angle ePIE runs (each one's data is freed once it is projected)."""
    k_voxel = 2 * np.pi * run.optics[2] / run.optics[1]
    objects, probes, errors, delta_p, beta_p = [], [], [], [], []
    for a in range(len(run.angles)):
        run_a, run.runs[a] = run.runs[a], None
        errors.append(np.asarray(run.errors[a], np.float64))
        probes.append(np.asarray(pie_estimate(run_a)["probe"], np.complex64))
        _notify(callback, "epie", a, {"errors": errors[-1]})
        obj, d, b = _project(np.asarray(run_a.obj, np.complex64), run.refs[a], *run.optics)
        objects.append(obj)
        delta_p.append(d)
        beta_p.append(b)
        _notify(callback, "projection", a, {"phase_range_rad": float(np.ptp(d)) * k_voxel})
    _notify(callback, "fbp", -1, {"n_angles": len(run.angles)})
    return {"delta": fbp(np.stack(delta_p), run.angles, run.filter),
            "beta": fbp(np.stack(beta_p), run.angles, run.filter),
            "objects": np.stack(objects), "probes": np.stack(probes), "errors": np.stack(errors)}


def ptycho_fbp(intensities, positions_px, probe, object_shape, angles_rad, wavelength_m,
               voxel_size_m, n_iter=100, refocus_m=0.0, filter="ram-lak", rng=None,
               epie_kwargs=None, callback=None, vacuum_mask=None) -> dict:
    """Conventional reconstruction: ePIE per angle -> refocus -> normalise -> unwrap -> FBP.

    intensities: float (n_angles, n_pos, n_y, n_x) far-field patterns, zero frequency at the
    centre pixel; positions_px: (n_angles, n_pos, 2) top-left (row, col) in object pixels;
    probe: complex (n_modes, n_y, n_x) initial guess (every angle starts from it);
    object_shape: (n_oy, n_ox); angles_rad: (n_angles,); wavelength_m, voxel_size_m > 0 (object
    pixel = voxel); n_iter >= 1 ePIE sweeps per angle; refocus_m: propagation distance applied to
    each object (typically minus half the sample thickness: exit plane -> rotation axis; 0 for thin
    samples), padded by half the object per side; filter: see :data:`baselines.fbp.FILTERS`; rng:
    seed or Generator, one child per angle; epie_kwargs: extra keywords for
    :func:`baselines.epie.epie` (alpha, beta, object0, mask, update_probe_after); callback(stage,
    angle_index, info) with stage "epie" (info: errors), "projection" (info: phase_range_rad) per
    angle and "fbp" (angle_index -1), once the sweeps are done; vacuum_mask: bool (n_oy, n_ox) of
    pixels that are vacuum at every angle, or None for :func:`illuminated_rim` of each angle's scan.
    Returns dict: delta, beta float32 (n_ox, n_oy, n_ox) indexed (z, y, x) per voxel; objects
    complex64 (n_angles, n_oy, n_ox) refocused and normalised; probes complex64
    (n_angles, n_modes, n_y, n_x); errors float64 (n_angles, n_iter) of ePIE.
    The same steps one at a time: :func:`ptycho_fbp_setup`, :func:`ptycho_fbp_sweep` (n_iter
    times), :func:`ptycho_fbp_finish`.
    """
    if callback is not None and not callable(callback):
        _checks.fail("callback", repr(callback), "None or a callable (stage, angle_index, info)")
    run = ptycho_fbp_setup(intensities, positions_px, probe, object_shape, angles_rad, wavelength_m,
                           voxel_size_m, n_iter, refocus_m, filter, rng, epie_kwargs, vacuum_mask)
    for _ in range(run.n_iter):
        ptycho_fbp_sweep(run)
    return ptycho_fbp_finish(run, callback)


def _project(obj, ref, refocus_m, wavelength_m, voxel_size_m):
    """Steps (b)-(d) for one angle: refocus (padded by half the object per side), normalise,
    unwrap -> (transmission complex64, delta_proj, beta_proj float32), all (n_oy, n_ox)."""
    if refocus_m:
        obj = angular_spectrum(obj, refocus_m, wavelength_m, voxel_size_m,
                               pad_px=min(obj.shape) // 2)
    obj = normalise_transmission(obj, ref)
    return (obj, *projected_index(obj, ref, wavelength_m, voxel_size_m))


def _validate(intensities, positions_px, probe, object_shape, angles_rad, filter, epie_kwargs):
    """Checks that must fail before any ePIE runs; returns the arrays and the ePIE keywords."""
    data = _checks.array("intensities", intensities, "iuf", ndim=4)
    _checks.nonnegative("intensities", data)
    p = _checks.array("probe", probe, "fc", ndim=3)
    if p.shape[1:] != data.shape[2:]:
        _checks.fail("probe", f"shape {p.shape}", f"(n_modes, {data.shape[2]}, {data.shape[3]})")
    shape = _checks.shape2("object_shape", object_shape)
    pos = _checks.array("positions_px", positions_px, "iuf", shape=data.shape[:2] + (2,))
    for a in range(pos.shape[0]):
        _checks.positions(f"positions_px[{a}]", pos[a], p.shape[1:], shape)
    angles = _checks.array("angles_rad", angles_rad, "iuf", shape=data.shape[:1])
    if filter not in FILTERS:
        _checks.fail("filter", repr(filter), f"one of {FILTERS}")
    kwargs = {} if epie_kwargs is None else dict(epie_kwargs)
    clash = sorted(set(kwargs) & set(_EPIE_OWN))
    if clash:
        _checks.fail("epie_kwargs", f"keys {clash}", f"none of {_EPIE_OWN} (set by ptycho_fbp)")
    return data, pos.astype(np.float64), angles.astype(np.float64), shape, kwargs


def _reference(mask, shape, name: str = "reference_mask") -> np.ndarray:
    """Bool mask of the given shape with >= 3 pixels."""
    m = _checks.array(name, mask, "biu", shape=shape) != 0
    if np.count_nonzero(m) < 3:
        _checks.fail(name, f"{np.count_nonzero(m)} pixels", "at least 3 vacuum pixels")
    return m


def _positive(name: str, value) -> float:
    """A finite real number > 0."""
    v = _real(name, value)
    if v <= 0:
        _checks.fail(name, repr(value), "a finite real number > 0")
    return v


def _real(name: str, value) -> float:
    """A finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        _checks.fail(name, repr(value), "a finite real number")
    return float(value)


def _notify(callback, stage: str, angle_index: int, info: dict) -> None:
    """Call the progress callback if there is one."""
    if callback is not None:
        callback(stage, angle_index, info)
