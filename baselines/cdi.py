"""Classical single-pattern CDI: error reduction (ER), hybrid input-output (HIO), shrink-wrap.

Follows J. R. Fienup, "Phase retrieval algorithms: a comparison", Appl. Opt. 21, 2758 (1982) and, for
the support update, S. Marchesini et al., "X-ray image reconstruction from a diffraction pattern
alone", Phys. Rev. B 68, 140101(R) (2003).

With F the centred unitary FFT, A = sqrt(I) the measured amplitudes and S the support, the modulus
projection is P_M x = F^-1[A F x / |F x|] on unmasked pixels (masked pixels keep F x), and

    ER:  x_{n+1} = S * P_M x_n
    HIO: x_{n+1} = P_M x_n            inside S,
         x_{n+1} = x_n - beta P_M x_n outside S.

errors[n] = sum_unmasked (|F x_n| - A)^2 / sum_unmasked A^2, the data error of the iterate entering
iteration n (Fienup's Fourier-domain error). Callback protocol: ``callback(n, state)`` after each
iteration n, state = {"object": S * x_{n+1} (a copy), "support": S, "error": errors[n]}; a truthy
return stops early. Arrays: amplitudes float (n_y, n_x) centred; support bool (n_y, n_x); objects
complex64 (n_y, n_x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import gaussian_filter

from baselines import _checks as checks
from baselines._fft import fft2, ifft2

_EPS = 1e-20  # keeps A / |F x| finite where |F x| = 0 (there F x = 0, so the product is 0)

Callback = Callable[[int, dict], "bool | None"]


class _Data(NamedTuple):
    amp: np.ndarray  # float32 (n_y, n_x), ifftshift-ed amplitudes (see baselines._fft)
    bad: np.ndarray | None  # bool (n_y, n_x), ifftshift-ed bad-pixel mask
    total: float  # sum of unmasked A^2


def _prepare(amplitudes, support, x0, mask, rng) -> tuple[_Data, np.ndarray, np.ndarray]:
    """Validate the shared inputs; return the data, the bool support and the complex64 start."""
    amp = checks.array("amplitudes", amplitudes, "iuf", ndim=2)
    checks.nonnegative("amplitudes", amp)
    sup = checks.support("support", support, amp.shape)
    bad = checks.bad_pixels("mask", mask, (amp.shape,))
    total = float(np.sum(np.square(amp, dtype=np.float64) if bad is None else np.square(amp[~bad], dtype=np.float64)))
    if total == 0:
        checks.fail("amplitudes", "zero on every unmasked pixel", "some measured signal")
    data = _Data(sfft.ifftshift(amp).astype(np.float32), None if bad is None else sfft.ifftshift(bad), total)
    if x0 is None:
        phase = checks.generator(rng).uniform(0, 2 * np.pi, amp.shape)
        x = ifft2(data.amp * np.exp(1j * phase).astype(np.complex64)) * sup
    else:
        x = checks.array("x0", x0, "iufc", shape=amp.shape).astype(np.complex64)
    return data, sup, x


def _modulus(x: np.ndarray, data: _Data) -> tuple[np.ndarray, float]:
    """P_M x and the unnormalised data residual sum (|F x| - A)^2 over unmasked pixels."""
    spec = fft2(x)
    mag = np.abs(spec)
    diff = mag - data.amp
    factor = data.amp / (mag + _EPS)
    if data.bad is not None:
        diff[data.bad] = 0
        factor[data.bad] = 1
    spec *= factor
    return ifft2(spec), float(np.vdot(diff, diff))


def _step(x, data: _Data, sup, beta: float | None) -> tuple[np.ndarray, float]:
    """One ER (beta None) or HIO iteration -> (x_{n+1}, errors[n])."""
    y, residual = _modulus(x, data)
    x = y * sup if beta is None else np.where(sup, y, x - beta * y)
    return x, residual / data.total


def _iterate(x, data: _Data, sup, n_iter: int, beta: float | None, callback, start: int):
    """n_iter ER (beta None) or HIO iterations -> (x, errors list, stopped by the callback)."""
    errors = []
    for n in range(n_iter):
        x, error = _step(x, data, sup, beta)
        errors.append(error)
        if callback is not None and callback(start + n, {"object": x * sup, "support": sup, "error": errors[-1]}):
            return x, errors, True
    return x, errors, False


def er(amplitudes, support, n_iter: int, x0=None, mask=None, rng=None,
       callback: Callback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Error reduction x_{n+1} = S * P_M x_n (Fienup 1982).

    amplitudes: float (n_y, n_x) >= 0, centred sqrt(intensities); support: bool (n_y, n_x), nonzero =
    inside; n_iter >= 0; x0: complex (n_y, n_x) start, or None for a random-phase start
    S * F^-1[A exp(i phi)] with phi uniform from ``rng``; mask: bool/uint (n_y, n_x), nonzero = bad pixel.
    Returns (x complex64 (n_y, n_x), errors float64 (n_iter_run,)).
    """
    n_iter = checks.integer("n_iter", n_iter, 0)
    checks.callback("callback", callback)
    data, sup, x = _prepare(amplitudes, support, x0, mask, rng)
    x, errors, _ = _iterate(x, data, sup, n_iter, None, callback, 0)
    return x * sup, np.asarray(errors, dtype=np.float64)


def hio(amplitudes, support, n_iter: int, beta: float = 0.9, x0=None, mask=None, rng=None,
        callback: Callback | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hybrid input-output (Fienup 1982): x_{n+1} = P_M x_n inside S, x_n - beta P_M x_n
    outside. Arguments as :func:`er`; beta in (0, 1]. Returns (S * x_final complex64 (n_y, n_x),
    errors float64 (n_iter_run,)).
    """
    n_iter = checks.integer("n_iter", n_iter, 0)
    beta = checks.in_range("beta", beta, 0.0, 1.0)
    checks.callback("callback", callback)
    data, sup, x = _prepare(amplitudes, support, x0, mask, rng)
    x, errors, _ = _iterate(x, data, sup, n_iter, beta, callback, 0)
    return x * sup, np.asarray(errors, dtype=np.float64)


def _shrinkwrap(x: np.ndarray, sigma_px: float, threshold: float) -> np.ndarray:
    blurred = gaussian_filter(np.abs(x).astype(np.float32), sigma_px)
    peak = float(blurred.max())
    if peak <= 0:
        checks.fail("x", "an all-zero estimate", "a non-zero estimate to derive a support from")
    return blurred >= threshold * peak


def shrinkwrap(x, sigma_px: float, threshold: float) -> np.ndarray:
    """Shrink-wrap support (Marchesini et al. 2003): S = {r : (g_sigma * |x|)(r) >= threshold max(g_sigma * |x|)}.

    x: complex or real (n_y, n_x) estimate; sigma_px > 0: Gaussian blur standard deviation in pixels;
    threshold in (0, 1]: fraction of the blurred maximum. Returns bool (n_y, n_x).
    """
    x = checks.array("x", x, "iufc", ndim=2)
    sigma_px = checks.in_range("sigma_px", sigma_px, 0.0, np.inf)
    threshold = checks.in_range("threshold", threshold, 0.0, 1.0)
    return _shrinkwrap(x, sigma_px, threshold)


@dataclass
class HioErRun:
    """An HIO/ER reconstruction between iterations (:func:`hio_er_setup`, :func:`hio_er_step`): the
    prepared data, the support and iterate, the cycle plan and the iterations run so far."""

    data: _Data
    support: np.ndarray  # bool (n_y, n_x)
    x: np.ndarray  # complex64 (n_y, n_x)
    n_cycles: int
    plan: tuple  # ((hio_iter, beta), (er_iter, None))
    shrinkwrap_every: int
    sigma_px: float
    threshold: float
    iteration: int = 0

    @property
    def estimate(self) -> np.ndarray:
        """S * x, complex64 (n_y, n_x)."""
        return self.x * self.support


def hio_er_setup(amplitudes, support, n_cycles: int, hio_iter: int = 40, er_iter: int = 10, beta: float = 0.9,
                 shrinkwrap_every: int = 0, sigma_px: float = 2.0, threshold: float = 0.2, x0=None, mask=None,
                 rng=None) -> HioErRun:
    """Validate and prepare an :func:`hio_er` reconstruction (its arguments but the callback)."""
    n_cycles = checks.integer("n_cycles", n_cycles, 0)
    plan = ((checks.integer("hio_iter", hio_iter, 0), checks.in_range("beta", beta, 0.0, 1.0)),
            (checks.integer("er_iter", er_iter, 0), None))
    shrinkwrap_every = checks.integer("shrinkwrap_every", shrinkwrap_every, 0)
    sigma_px = checks.in_range("sigma_px", sigma_px, 0.0, np.inf)
    threshold = checks.in_range("threshold", threshold, 0.0, 1.0)
    data, sup, x = _prepare(amplitudes, support, x0, mask, rng)
    return HioErRun(data, sup, x, n_cycles, plan, shrinkwrap_every, sigma_px, threshold)


def hio_er_step(run: HioErRun) -> float:
    """The next iteration of the cycles (HIO, then ER), updating ``run`` -> its error. A cycle's
    shrink-wrap is applied when the next cycle starts, so the iterate of a cycle's last iteration is
    seen with the support it was computed with."""
    (n_hio, beta), (n_er, _) = run.plan
    per_cycle = n_hio + n_er
    cycle, within = divmod(run.iteration, per_cycle)
    if (within == 0 and cycle > 0 and run.shrinkwrap_every and cycle % run.shrinkwrap_every == 0
            and cycle < run.n_cycles):
        run.support = _shrinkwrap(run.x * run.support, run.sigma_px, run.threshold)
    run.x, error = _step(run.x, run.data, run.support, beta if within < n_hio else None)
    run.iteration += 1
    return error


def hio_er(amplitudes, support, n_cycles: int, hio_iter: int = 40, er_iter: int = 10, beta: float = 0.9,
           shrinkwrap_every: int = 0, sigma_px: float = 2.0, threshold: float = 0.2, x0=None, mask=None,
           rng=None, callback: Callback | None = None) -> dict:
    """n_cycles of (hio_iter HIO, then er_iter ER) iterations (Fienup 1982: HIO to escape
    stagnation, ER to settle onto the constraint set). With shrinkwrap_every = k > 0 the support is
    replaced by ``shrinkwrap(x, sigma_px, threshold)`` after every k-th cycle but the last
    (Marchesini et al. 2003); the initial support should then be loose (e.g. the autocorrelation's).

    Arguments as :func:`hio`. The callback's iteration counts across cycles. Returns
    {"object": complex64 (n_y, n_x) = S * x, "support": bool (n_y, n_x), "errors": float64 (n_run,)}.
    The same iterations one at a time: :func:`hio_er_setup`, then :func:`hio_er_step`.
    """
    checks.callback("callback", callback)
    run = hio_er_setup(amplitudes, support, n_cycles, hio_iter, er_iter, beta, shrinkwrap_every, sigma_px,
                       threshold, x0, mask, rng)
    errors: list[float] = []
    for n in range(run.n_cycles * (run.plan[0][0] + run.plan[1][0])):
        errors.append(hio_er_step(run))
        if callback is not None and callback(n, {"object": run.estimate, "support": run.support,
                                                 "error": errors[-1]}):
            break
    return {"object": run.estimate, "support": run.support, "errors": np.asarray(errors, dtype=np.float64)}
