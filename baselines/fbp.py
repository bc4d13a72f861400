"""Parallel-beam filtered back projection (FBP), an independent reference implementation.

Follows Kak & Slaney, *Principles of Computerized Tomographic Imaging* (IEEE Press 1988), ch. 3:

    f(z, x) = sum_a w_a Q_a(t),    t = x cos(a) - z sin(a),    Q_a = IFFT[ FFT[p_a] * H ]

with (z, x) voxel offsets from the rotation centre (n // 2, n // 2), t the detector offset from
detector pixel n // 2, H = 2 |f| W(f) the ramp (f in cycles per sample) times a window W, and
w_a the angular quadrature weight of angle a (see :func:`angle_weights`). The geometry, the centre
and the scaling are those of ``skimage.transform.radon`` / ``iradon`` so results are directly
comparable: a point (z, x) of the slice projects onto detector offset ``x cos(a) - z sin(a)``
(a disk centred at offset (z0, x0) has its projection centred at ``x0 cos(a) - z0 sin(a)``).

A projection stack P[angle, y, x] holds, for each row y (the rotation axis), the sinogram of slice
y; all rows are reconstructed at once: back projection is one sparse linear-interpolation matrix
(pixels x (angle, detector)) applied to the filtered projections of every row.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse

from baselines import _checks

FILTERS = ("ram-lak", "shepp-logan", "cosine", "hann")
PAIRS_PER_CHUNK = 1 << 22  # (angle, pixel) pairs per sparse block: bounds memory to ~100 MB


def fourier_filter(n_padded: int, filter: str = "ram-lak") -> np.ndarray:
    """Windowed ramp filter H on the ``rfftfreq(n_padded)`` grid, float64 (n_padded // 2 + 1,).

    The ramp is the DFT of the band-limited spatial kernel of Kak & Slaney eq. (61),
    h(0) = 1/4, h(n) = -1 / (pi n)^2 for odd n, 0 for even n (n the periodic signed offset), so
    H(f) ~= 2 |f| without the DC bias of a sampled |f|. Windows W(f), f in cycles per sample:
    "ram-lak" 1, "shepp-logan" sin(pi f) / (pi f), "cosine" cos(pi f), "hann" cos^2(pi f)
    (= (1 + cos 2 pi f) / 2; scikit-image's hann uses np.hanning(n), equal up to O(1/n)).
    n_padded: even int >= 2.
    """
    if _checks.integer("n_padded", n_padded, 2) % 2:
        _checks.fail("n_padded", repr(n_padded), "an even integer")
    if filter not in FILTERS:
        _checks.fail("filter", repr(filter), f"one of {FILTERS}")
    offset = np.minimum(np.arange(n_padded), n_padded - np.arange(n_padded))
    kernel = np.zeros(n_padded)
    kernel[0] = 0.25
    odd = offset % 2 == 1
    kernel[odd] = -1.0 / (np.pi * offset[odd]) ** 2
    ramp = 2.0 * scipy.fft.rfft(kernel).real
    f = scipy.fft.rfftfreq(n_padded)
    window = {"ram-lak": np.ones_like(f), "shepp-logan": np.sinc(f),
              "cosine": np.cos(np.pi * f), "hann": np.cos(np.pi * f) ** 2}[filter]
    return ramp * window


def angle_weights(angles_rad: np.ndarray) -> np.ndarray:
    """Quadrature weights w_a of the back-projection sum, float64 (n_angles,).

    Parallel-beam data have period pi (p(t, a + pi) = p(-t, a)), so the angles are folded into
    [0, pi) and each one gets half of its cell on that circle: w_i = (a_{i+1} - a_{i-1}) / 4 with
    a sorted and wrapped around pi (a_{-1} = a_{N-1} - pi, a_N = a_0 + pi; the extra 1/2
    compensates H = 2 |f|). The weights sum to pi/2;
    N equally spaced angles over 180 (or 360) degrees give pi / (2 N) (resp. pi / N), as in
    ``iradon``. Repeated angles share their cell.
    angles_rad: finite float array (n_angles,), n_angles >= 1.
    """
    angles = _checks.array("angles_rad", angles_rad, "iuf", ndim=1).astype(np.float64)
    if angles.size < 1:
        _checks.fail("angles_rad", "no angle", "at least one angle")
    folded = np.mod(angles, np.pi)
    order = np.argsort(folded, kind="stable")
    ring = folded[order]
    gap_after = np.diff(ring, append=ring[0] + np.pi)  # gaps around the circle, sum pi
    weights = np.empty_like(ring)
    weights[order] = (gap_after + np.roll(gap_after, 1)) / 4.0
    return weights


def filter_projections(projections: np.ndarray, filter: str = "ram-lak") -> np.ndarray:
    """Ramp-filter each projection along its last axis: Q = IFFT[FFT[p] H], real (..., n_x).

    Zero-padded to the next power of two >= 2 n_x (linear, not circular, convolution).
    projections: finite real array (..., n_x); returns float32 for float32 input, else float64.
    """
    p = _real_projections(projections, (1, 2, 3))
    n_x = p.shape[-1]
    n_padded = 1 << int(np.ceil(np.log2(2 * n_x)))
    h = fourier_filter(n_padded, filter).astype(p.dtype)
    spectrum = scipy.fft.rfft(p, n=n_padded, axis=-1, workers=-1)
    return scipy.fft.irfft(spectrum * h, n=n_padded, axis=-1, workers=-1)[..., :n_x]


def fbp(projections: np.ndarray, angles_rad: np.ndarray, filter: str = "ram-lak",
        circle: bool = True) -> np.ndarray:
    """Filtered back projection of a parallel-beam sinogram or projection stack.

    projections: finite real (n_angles, n_x) -> slice (n_x, n_x) indexed (z, x), or
        (n_angles, n_y, n_x) -> volume (n_x, n_y, n_x) indexed (z, y, x); the value per unit
        voxel when the projections are sums over voxels (scikit-image's radon convention).
    angles_rad: (n_angles,) rotation angles in radians, any set (weighted by :func:`angle_weights`).
    filter: one of :data:`FILTERS` (see :func:`fourier_filter`).
    circle: True (scikit-image's default) sets the voxels outside the inscribed circle of radius
        n_x // 2 to 0; False reconstructs them too (samples beyond the detector count as 0).
    Returns float32 for float32 projections, else float64. Matches ``skimage.transform.iradon``
    (linear interpolation; scaling pi / (2 n_angles) for equal spacing over 180 degrees).
    """
    p = _real_projections(projections, (2, 3))
    angles = _checks.array("angles_rad", angles_rad, "iuf", shape=(p.shape[0],))
    if not isinstance(circle, (bool, np.bool_)):
        _checks.fail("circle", repr(circle), "a bool")
    weights = angle_weights(angles)
    stack = p if p.ndim == 3 else p[:, None, :]
    filtered = filter_projections(stack, filter) * weights.astype(p.dtype)[:, None, None]
    volume = _back_project(filtered, angles, circle)
    return volume if p.ndim == 3 else volume[:, 0, :]


def _back_project(filtered: np.ndarray, angles: np.ndarray, circle: bool) -> np.ndarray:
    """Sum over angles of filtered (n_angles, n_y, n_x) interpolated at t: (n_x, n_y, n_x)."""
    n_angles, n_y, n = filtered.shape
    centre = n // 2
    zr, xr = np.meshgrid(np.arange(n) - centre, np.arange(n) - centre, indexing="ij")
    keep = (zr ** 2 + xr ** 2 <= centre ** 2) if circle else np.ones((n, n), bool)
    pixels = np.flatnonzero(keep)
    zr = zr.ravel()[pixels].astype(filtered.dtype)
    xr = xr.ravel()[pixels].astype(filtered.dtype)
    # rows (angle, detector) with one zero sample on each side of the detector: (n_angles, n+2, n_y)
    padded = np.zeros((n_angles, n + 2, n_y), filtered.dtype)
    padded[:, 1:-1, :] = filtered.transpose(0, 2, 1)
    columns = padded.reshape(n_angles * (n + 2), n_y)
    out = np.zeros((n * n, n_y), filtered.dtype)
    chunk = max(1, PAIRS_PER_CHUNK // max(pixels.size, 1))
    for start in range(0, n_angles, chunk):
        block = slice(start, min(start + chunk, n_angles))
        matrix = _interpolation_matrix(angles[block], zr, xr, n, filtered.dtype)
        out[pixels] += matrix @ columns[block.start * (n + 2):block.stop * (n + 2)]
    return np.ascontiguousarray(out.reshape(n, n, n_y).transpose(0, 2, 1))


def _interpolation_matrix(angles: np.ndarray, zr: np.ndarray, xr: np.ndarray, n: int,
                          dtype: np.dtype) -> scipy.sparse.csr_array:
    """CSR (n_pixels, n_angles (n + 2)): linear interpolation at t = x cos a - z sin a per angle.

    Each row holds 2 entries per angle at columns a (n + 2) + i, +1 (already sorted), so the
    matrix is assembled directly in CSR form without a sort.
    """
    width = n + 2
    u = np.multiply.outer(xr, np.cos(angles).astype(dtype))
    u -= np.multiply.outer(zr, np.sin(angles).astype(dtype))
    u += n // 2 + 1
    np.clip(u, 0.0, width - 1.0, out=u)  # beyond the detector: the zero pad samples
    lower = np.minimum(u.astype(np.int32), width - 2)  # u >= 0: truncation is floor
    indices = np.empty(u.shape + (2,), np.int32)
    indices[..., 0] = lower + np.arange(angles.size, dtype=np.int32) * width
    indices[..., 1] = indices[..., 0] + 1
    data = np.empty(u.shape + (2,), dtype)
    data[..., 1] = u - lower
    data[..., 0] = 1 - data[..., 1]
    n_pixels, nnz_per_row = xr.size, 2 * angles.size
    indptr = np.arange(0, n_pixels * nnz_per_row + 1, nnz_per_row, dtype=np.int64)
    return scipy.sparse.csr_array((data.ravel(), indices.ravel(), indptr),
                                  shape=(n_pixels, angles.size * width))


def _real_projections(projections: np.ndarray, ndims: tuple[int, ...]) -> np.ndarray:
    """Finite real array of one of ``ndims`` with >= 2 columns: float32 kept, else float64."""
    p = _checks.array("projections", projections, "iuf")
    if p.ndim not in ndims or p.shape[-1] < 2:
        _checks.fail("projections", f"shape {p.shape}",
                     f"a {' or '.join(map(str, ndims))}-D array (..., n_x) with n_x >= 2")
    return p.astype(np.float32 if p.dtype == np.float32 else np.float64, copy=False)
