"""Phase ambiguities of phase retrieval: global phase, linear phase ramp, twin image.

Coordinates for the ramp are pixel indices centred on pixel ``n // 2`` (the project's convention,
:func:`cdibench.physics.fft.centred_coordinates_m`), so the ramp offset is the phase at the centre pixel.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from cdibench.metrics._checks import as_finite, image_pair, weight_map
from cdibench.metrics.shift import refine_peak

RAMP_OVERSAMPLE = 4  # zero-padding factor of the cross-power FFT that finds the coarse ramp


def global_phase(estimate, truth, weights=None) -> float:
    """Closed-form global phase [rad] minimising ``sum w |truth - exp(i phi) estimate|^2``.

    estimate, truth: complex arrays of equal shape (any dimensionality); weights: optional real
    non-negative array of that shape (a bool region works). ``phi = angle(sum w conj(estimate) truth)``,
    in (-pi, pi]; 0.0 when that sum vanishes (phase undefined, e.g. orthogonal images).
    """
    estimate, truth = image_pair(estimate, truth)
    weights = weight_map(weights, truth.shape)
    overlap = np.sum(weights * np.conj(estimate) * truth)
    return float(np.angle(overlap)) if overlap != 0 else 0.0


def ramp_coordinates(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates centred on ``n // 2``: y float64 (n_y, 1), x float64 (1, n_x)."""
    y = (np.arange(shape[0]) - shape[0] // 2)[:, None].astype(np.float64)
    x = (np.arange(shape[1]) - shape[1] // 2)[None, :].astype(np.float64)
    return y, x


def fit_phase_ramp(estimate, truth, weights=None, *, start=None) -> tuple[float, float, float]:
    """Linear phase ramp ``a + b y + c x`` of ``estimate / truth``: returns ``(a, b, c)``.

    estimate, truth: 2D complex (n_y, n_x); weights: optional real non-negative (n_y, n_x), e.g. the
    scoring region. ``a`` [rad] is the phase at the centre pixel, ``b``, ``c`` [rad/px] the slopes along
    y (rows) and x (columns), so ``estimate ~ truth * exp(i (a + b y + c x))``.

    Method (no phase unwrapping, so phase wraps, holes and weak pixels do not break it): the ramp is
    the least-squares maximiser of ``|sum z exp(-i (b y + c x))|`` with the cross-power
    ``z = w conj(truth) estimate``; to second order this is weighted least squares on the phase of
    ``z`` with weights ``w |truth| |estimate|``. The coarse maximiser is the peak of the FFT of ``z``
    zero-padded 4x (a phase ramp in real space is a shift in Fourier space), refined by a bounded
    Newton ascent; then ``a = angle(sum z exp(-i (b y + c x)))`` in closed form. ``start``: known
    approximate slopes ``(b, c)`` (within ~pi / n rad/px) to refine instead of searching.
    """
    estimate, truth = image_pair(estimate, truth, ndim=(2,))
    weights = weight_map(weights, truth.shape)
    cross = weights * np.conj(truth.astype(np.complex128)) * estimate
    if not np.any(cross):
        raise ValueError("estimate and truth do not overlap where weights > 0: no phase ramp to fit")
    padded = tuple(RAMP_OVERSAMPLE * n for n in truth.shape)
    if start is None:
        peak = np.unravel_index(np.argmax(np.abs(sfft.fft2(cross, s=padded))), padded)
        coarse = [2 * np.pi * sfft.fftfreq(n)[k] for n, k in zip(padded, peak)]
    else:
        coarse = as_finite("start", start, ndim=(1,), real=True).astype(np.float64)
        if coarse.shape != (2,):
            raise ValueError(f"start must be the slopes (b, c), got {coarse.tolist()}")
    y, x = ramp_coordinates(truth.shape)
    b, c = refine_peak(cross, y, x, coarse, half_width=2 * np.pi / min(padded))
    a = np.angle(np.sum(cross * np.exp(-1j * (b * y + c * x))))
    return float(a), float(b), float(c)


def apply_phase_ramp(image, coefficients) -> np.ndarray:
    """``image * exp(-i (a + b y + c x))`` for ``coefficients = (a, b, c)``; image 2D (n_y, n_x).

    Complex input keeps its dtype; real input returns complex128.
    """
    image = np.asarray(image)
    a, b, c = coefficients
    y, x = ramp_coordinates(image.shape)
    out = image * np.exp(-1j * (a + b * y + c * x))
    return out.astype(image.dtype if np.iscomplexobj(image) else np.complex128, copy=False)


def remove_phase_ramp(estimate, truth, weights=None) -> np.ndarray:
    """``estimate`` with the ramp of :func:`fit_phase_ramp` (offset included) divided out.

    estimate, truth: 2D complex (n_y, n_x); weights: optional (n_y, n_x). Returns complex (n_y, n_x),
    estimate's dtype (complex128 for real input).
    """
    return apply_phase_ramp(np.asarray(estimate), fit_phase_ramp(estimate, truth, weights))


def twin(image) -> np.ndarray:
    """Twin image ``f(r) -> conj(f(-r))`` on the last two axes, reflected about pixel ``n // 2``.

    image: array (..., n_y, n_x). Pixel ``i`` maps to ``(2 (n // 2) - i) mod n``: for odd n that is a
    plain flip, for even n the flip rolled by one so that pixel ``n // 2`` (the centre, zero frequency
    of the centred FFT) maps to itself. It is an involution: ``twin(twin(f)) == f``. The twin has the
    same Fourier modulus as ``f``, which is why CDI cannot tell them apart. Same shape and dtype.
    """
    image = as_finite("image", image)
    if image.ndim < 2:
        raise ValueError(f"image must have at least 2 dimensions, got shape {image.shape}")
    flipped = np.conj(image[..., ::-1, ::-1])
    return np.roll(flipped, (1 - image.shape[-2] % 2, 1 - image.shape[-1] % 2), axis=(-2, -1))
