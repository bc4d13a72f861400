"""Subpixel translation: Fourier shift and registration (phase correlation, then a local refinement).

Convention (the same as :func:`cdibench.physics.fft.fourier_shift` and ``scipy.ndimage.fourier_shift``):
a positive shift moves content towards larger indices, and ``register_shift(estimate, truth)`` returns
the shift that, applied to ``estimate`` with :func:`apply_shift`, best superimposes it on ``truth``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from skimage.registration import phase_cross_correlation

from cdibench.metrics._checks import as_finite, image_pair, region_mask

MAX_NEWTON_STEPS = 50
NEWTON_TOLERANCE = 1e-12  # step size (px, or rad/px for ramps) at which the refinement stops


def apply_shift(image, shift) -> np.ndarray:
    """Translate ``image`` by a (subpixel) ``shift`` with a Fourier phase ramp (periodic boundary).

    image: real or complex array (..., n_y, n_x) (any number of axes); shift: k floats applied to the
    last k axes, e.g. ``(dy, dx)`` for an image, ``(dz, dy, dx)`` for a volume. Returns the same shape;
    complex input keeps its dtype, real input returns the real part in its float dtype (float64 for
    integers). An all-zero shift returns a copy without transforming.
    """
    image = as_finite("image", image)
    shift = np.atleast_1d(np.asarray(shift, dtype=np.float64))
    if shift.ndim != 1 or not 1 <= shift.size <= image.ndim:
        raise ValueError(f"shift must hold 1 to {image.ndim} values for an image of shape {image.shape}, "
                         f"got {shift.tolist()}")
    if not np.all(np.isfinite(shift)):
        raise ValueError(f"shift contains NaN or infinite values: {shift.tolist()}")
    out_dtype = image.dtype if np.iscomplexobj(image) or np.issubdtype(image.dtype, np.floating) else np.float64
    if not np.any(shift):
        return image.astype(out_dtype, copy=True)
    axes = tuple(range(image.ndim - shift.size, image.ndim))
    phase = np.zeros([image.shape[a] if a in axes else 1 for a in range(image.ndim)])
    for s, axis in zip(shift, axes):
        freq = sfft.fftfreq(image.shape[axis])
        phase = phase + s * freq.reshape([-1 if a == axis else 1 for a in range(image.ndim)])
    spectrum = sfft.fftn(image.astype(np.complex128), axes=axes) * np.exp(-2j * np.pi * phase)
    shifted = sfft.ifftn(spectrum, axes=axes)
    if not np.iscomplexobj(image):
        shifted = shifted.real
    return shifted.astype(out_dtype, copy=False)


def register_shift(estimate, truth, upsample: int = 20, region=None, *, refine: bool = True,
                   start=None) -> tuple[float, float]:
    """Subpixel shift ``(dy, dx)`` [px] that moves ``estimate`` onto ``truth``.

    estimate, truth: 2D arrays (n_y, n_x), real or complex (complex64/complex128); region: optional bool
    (n_y, n_x) mask of the part of ``truth`` to match (the estimate is used whole, so the mask edge does
    not pull the shift towards zero).

    Two steps: (1) ``skimage.registration.phase_cross_correlation`` on the complex images (the
    correlation peak magnitude ignores a global phase; a phase ramp must be removed beforehand, as
    :func:`align` does) with ``upsample_factor=upsample``, precision 1/upsample px; (2) if ``refine``,
    a bounded Newton ascent (+-1 px) of the modulus of the unnormalised cross-correlation
    ``|<region * truth, apply_shift(estimate, s)>|`` evaluated exactly through the Fourier series. Its
    maximum is the least-squares shift with the global phase free, so noise-free shifted copies of a
    band-limited image are recovered to ~1e-9 px rather than to the upsampling grid. ``start``: a
    known approximate ``(dy, dx)`` (within ~1 px) skips step (1). Returns floats ``(dy, dx)`` [px].
    """
    estimate, truth = image_pair(estimate, truth, ndim=(2,))
    region = region_mask(region, truth.shape)
    if int(upsample) != upsample or upsample < 1:
        raise ValueError(f"upsample must be an integer >= 1, got {upsample!r}")
    reference = np.where(region, truth, 0).astype(np.complex128)
    if not np.any(reference):
        raise ValueError("truth is zero everywhere inside region: nothing to register on")
    if not np.any(estimate):
        raise ValueError("estimate is zero everywhere: nothing to register")
    moving = estimate.astype(np.complex128)
    if start is not None:
        coarse = as_finite("start", start, ndim=(1,), real=True).astype(np.float64)
        if coarse.shape != (2,):
            raise ValueError(f"start must be (dy, dx), got {coarse.tolist()}")
    else:
        coarse, _, _ = phase_cross_correlation(reference, moving, upsample_factor=int(upsample))
    if not refine:
        return float(coarse[0]), float(coarse[1])
    cross = np.conj(sfft.fft2(reference)) * sfft.fft2(moving)
    q_y = 2 * np.pi * sfft.fftfreq(truth.shape[0])[:, None]
    q_x = 2 * np.pi * sfft.fftfreq(truth.shape[1])[None, :]
    dy, dx = refine_peak(cross, q_y, q_x, coarse, half_width=1.0)
    return float(dy), float(dx)


def refine_peak(terms: np.ndarray, q_y: np.ndarray, q_x: np.ndarray, start, half_width: float) -> np.ndarray:
    """Local maximiser ``p = (p_y, p_x)`` of ``F(p) = |sum terms * exp(-i (q_y p_y + q_x p_x))|^2``.

    terms: complex (n_y, n_x); q_y, q_x: real, broadcastable to it; start: (2,) initial guess; the search
    stays within ``start +- half_width``. Used for both the subpixel shift (q = angular frequency) and
    the phase-ramp slope (q = pixel coordinate). Newton steps with the analytic 2x2 Hessian, falling
    back to halved steps (and to gradient steps where F is not locally concave); F never decreases.
    Returns float64 (2,).
    """
    terms = np.asarray(terms, dtype=np.complex128)
    q = [np.broadcast_to(q_y, terms.shape).ravel(), np.broadcast_to(q_x, terms.shape).ravel()]
    terms = terms.ravel()
    start = np.asarray(start, dtype=np.float64)
    norm = np.sum(np.abs(terms))
    if norm == 0:
        return start
    terms = terms / norm
    low, high = start - half_width, start + half_width

    def power(p):
        return abs(np.sum(terms * np.exp(-1j * (q[0] * p[0] + q[1] * p[1])))) ** 2

    p = start.copy()
    for _ in range(MAX_NEWTON_STEPS):
        weighted = terms * np.exp(-1j * (q[0] * p[0] + q[1] * p[1]))
        total = weighted.sum()
        first = [np.sum(-1j * q_j * weighted) for q_j in q]
        second = [[np.sum(-q_j * q_k * weighted) for q_k in q] for q_j in q]
        gradient = np.array([2 * np.real(np.conj(total) * f) for f in first])
        hessian = np.array([[2 * np.real(np.conj(first[j]) * first[k] + np.conj(total) * second[j][k])
                             for k in range(2)] for j in range(2)])
        if np.all(np.linalg.eigvalsh(hessian) < 0):
            step = -np.linalg.solve(hessian, gradient)
        else:  # not concave here: gradient ascent, at most half the box
            step = gradient * (0.5 * half_width / max(np.linalg.norm(gradient), 1e-300))
        current = abs(total) ** 2
        for _ in range(40):
            candidate = np.clip(p + step, low, high)
            if power(candidate) >= current:
                break
            step = step / 2
        else:
            break
        moved = np.max(np.abs(candidate - p))
        p = candidate
        if moved < NEWTON_TOLERANCE:
            break
    return p
