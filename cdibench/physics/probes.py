"""Illumination (probe) models: Gaussian, focused (Airy / Fresnel zone plate), soft-edged disk.

Spatial partial coherence is modelled as an incoherent sum of mutually orthogonal modes
(Thibault & Menzel, Nature 494, 68 (2013)): the measured intensity is sum_k |F(P_k O)|^2 and the
mode k carries the occupation w_k = mode_decay**k / sum_j mode_decay**j of the total power.

Higher modes are the main probe P_0 multiplied by monomials x^a y^b of the centred coordinates
(scaled by the rms width of |P_0|^2), ordered by total degree a + b and, within a degree, by
decreasing a (1, x, y, x^2, xy, y^2, x^3, ...), then orthonormalised by a QR decomposition
(Householder; the same span and order as Gram-Schmidt, numerically stable). Mode 0 is therefore
the main probe itself; for a Gaussian main probe the modes are the Hermite-Gauss modes.

All probes are complex64 ``(n_modes, n_y, n_x)``, centred at pixel ``(n_y // 2, n_x // 2)``, with
total power sum_k sum |P_k|^2 = 1 (the simulator scales it to the photon budget).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import erfc

from cdibench import units
from cdibench.config import require
from cdibench.physics.fft import ifft2c
from cdibench.physics.propagators import angular_spectrum_kernel, propagate

PROBE_TYPES = ("gaussian", "focused", "soft-disk")
GUESS_TYPES = ("true", "flat", "gaussian")
MAX_MODES = 15  # monomials up to degree 4: higher degrees are ill-conditioned and unphysical
SUPPORT_THRESHOLD = 1e-6  # |P|^2 above this fraction of its maximum counts as illuminated


@dataclass(frozen=True)
class ProbeConfig:
    """Probe model. Lengths in object-plane pixels unless the name says otherwise.

    type: "gaussian" | "focused" | "soft-disk".
    fwhm_px: gaussian, FWHM of the intensity |P|^2.
    focus_diameter_px: focused, Airy first-zero diameter 1.22 lambda / NA; the pupil is a disk of
        cutoff f_c = 1.22 / focus_diameter_px cycles/px.
    central_stop: focused, fraction of the pupil radius blocked (Fresnel zone plate), in [0, 1).
    defocus_m: focused, propagation distance from the focus [m] (angular spectrum).
    radius_px, edge_px, curvature_rad: soft-disk amplitude 0.5 erfc((r - radius_px) / edge_px)
        and phase curvature_rad * (r / radius_px)^2.
    n_modes, mode_decay: number of orthogonal modes; occupation w_k proportional to mode_decay**k.
    guess: the probe handed to solvers: "true" (the true modes), "flat" (this probe without phase
        curvature or defocus, one mode) or "gaussian" (same power and second-moment width, flat
        phase, one mode): see :func:`probe_guess`.
    """

    type: str = "soft-disk"
    fwhm_px: float = 16.0
    focus_diameter_px: float = 8.0
    central_stop: float = 0.0
    defocus_m: float = 0.0
    radius_px: float = 16.0
    edge_px: float = 2.0
    curvature_rad: float = 0.0
    n_modes: int = 1
    mode_decay: float = 0.5
    guess: str = "true"

    def __post_init__(self):
        require(self.type in PROBE_TYPES, "probe.type", self.type, f"one of {PROBE_TYPES}")
        for name in ("fwhm_px", "focus_diameter_px", "radius_px", "edge_px"):
            value = getattr(self, name)
            require(np.isfinite(value) and value > 0, f"probe.{name}", value, "a finite number > 0")
        require(self.focus_diameter_px > 2 * 1.22, "probe.focus_diameter_px", self.focus_diameter_px,
                "> 2.44 px (pupil cutoff 1.22 / focus_diameter_px below Nyquist, 0.5 cycles/px)")
        require(0 <= self.central_stop < 1, "probe.central_stop", self.central_stop, "a fraction in [0, 1)")
        for name in ("defocus_m", "curvature_rad"):
            value = getattr(self, name)
            require(np.isfinite(value), f"probe.{name}", value, "a finite number")
        require(isinstance(self.n_modes, int) and 1 <= self.n_modes <= MAX_MODES, "probe.n_modes",
                self.n_modes, f"an integer in [1, {MAX_MODES}]")
        require(0 < self.mode_decay <= 1, "probe.mode_decay", self.mode_decay, "a number in (0, 1]")
        require(self.guess in GUESS_TYPES, "probe.guess", self.guess, f"one of {GUESS_TYPES}")


def mode_weights(n_modes: int, mode_decay: float) -> np.ndarray:
    """Occupations w_k = mode_decay**k / sum_j mode_decay**j, float64 (n_modes,), summing to 1."""
    weights = float(mode_decay) ** np.arange(n_modes, dtype=np.float64)
    return weights / weights.sum()


def _centred_px(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates relative to the centre pixel: y (n_y, 1), x (1, n_x), float64."""
    y = np.arange(shape[0], dtype=np.float64) - shape[0] // 2
    x = np.arange(shape[1], dtype=np.float64) - shape[1] // 2
    return y[:, None], x[None, :]


def _radius_px(shape: tuple[int, int]) -> np.ndarray:
    """Distance [px] from the centre pixel (n_y // 2, n_x // 2), float64 (n_y, n_x)."""
    y, x = _centred_px(shape)
    return np.hypot(y, x)


def _gaussian(shape: tuple[int, int], fwhm_px: float) -> np.ndarray:
    """Gaussian amplitude whose intensity has FWHM ``fwhm_px``, complex128 (n_y, n_x)."""
    r = _radius_px(shape)
    return np.exp(-2 * np.log(2) * (r / fwhm_px) ** 2).astype(np.complex128)


def _soft_disk(shape: tuple[int, int], config: ProbeConfig) -> np.ndarray:
    """Disk with erfc edge and quadratic phase, complex128 (n_y, n_x)."""
    r = _radius_px(shape)
    amplitude = 0.5 * erfc((r - config.radius_px) / config.edge_px)
    return amplitude * np.exp(1j * config.curvature_rad * (r / config.radius_px) ** 2)


def _focused(shape: tuple[int, int], config: ProbeConfig, pixel_size_m: float,
             wavelength_m: float) -> np.ndarray:
    """Airy spot of a (possibly annular) pupil, propagated by ``defocus_m``; complex128 (n_y, n_x).

    The pupil lives on the centred frequency grid f = (k - n // 2) / n cycles/px, so its inverse
    centred FFT is centred at pixel n // 2; its first zero lies at radius focus_diameter_px / 2.
    """
    y, x = _centred_px(shape)
    f = np.hypot(y / shape[0], x / shape[1])
    cutoff = 1.22 / config.focus_diameter_px
    pupil = (f <= cutoff) & (f >= config.central_stop * cutoff)
    field = ifft2c(pupil.astype(np.complex128))
    if config.defocus_m == 0:
        return field
    kernel = angular_spectrum_kernel(shape, pixel_size_m, wavelength_m, config.defocus_m)
    return propagate(field, kernel.astype(np.complex128))


def _main_probe(config: ProbeConfig, shape: tuple[int, int], pixel_size_m: float,
                wavelength_m: float) -> np.ndarray:
    """The fully coherent probe P_0 (unnormalised), complex128 (n_y, n_x)."""
    if config.type == "gaussian":
        return _gaussian(shape, config.fwhm_px)
    if config.type == "focused":
        return _focused(shape, config, pixel_size_m, wavelength_m)
    return _soft_disk(shape, config)


def _rms_widths_px(intensity: np.ndarray) -> tuple[float, float]:
    """Second-moment widths (sigma_y, sigma_x) [px] of an intensity (n_y, n_x) about its centroid."""
    y, x = _centred_px(intensity.shape)
    total = intensity.sum()
    mean_y, mean_x = (intensity * y).sum() / total, (intensity * x).sum() / total
    var_y = (intensity * (y - mean_y) ** 2).sum() / total
    var_x = (intensity * (x - mean_x) ** 2).sum() / total
    return float(np.sqrt(var_y)), float(np.sqrt(var_x))


def _orthonormal_modes(main: np.ndarray, n_modes: int) -> np.ndarray:
    """Orthonormal modes spanned by main * x^a y^b (see module docstring), complex128 (n_modes, n_y, n_x)."""
    sigma_y, sigma_x = _rms_widths_px(np.abs(main) ** 2)
    y, x = _centred_px(main.shape)
    y, x = y / sigma_y, x / sigma_x
    exponents = [(a, degree - a) for degree in range(MAX_MODES) for a in range(degree, -1, -1)]
    columns = [(main * x**a * y**b).ravel() for a, b in exponents[:n_modes]]
    q, r = np.linalg.qr(np.stack(columns, axis=1))
    diagonal = np.diagonal(r)
    q = q * (diagonal / np.abs(diagonal))  # undo QR's phase so that mode 0 is main / ||main||
    return q.T.reshape((n_modes,) + main.shape)


def make_probe(config: ProbeConfig, shape: tuple[int, int], pixel_size_m: float,
               energy_kev: float) -> np.ndarray:
    """True probe modes, complex64 (n_modes, n_y, n_x).

    Centred at (n_y // 2, n_x // 2); modes mutually orthogonal; mode k has power w_k
    (:func:`mode_weights`), total power 1. ``pixel_size_m`` [m] is the object-plane sampling and
    ``energy_kev`` the photon energy (both used by the defocus of the focused probe).
    """
    require(len(shape) == 2 and all(isinstance(n, (int, np.integer)) and n >= 2 for n in shape),
            "shape", shape, "(n_y, n_x) integers >= 2")
    require(np.isfinite(pixel_size_m) and pixel_size_m > 0, "pixel_size_m", pixel_size_m,
            "a finite number > 0")
    main = _main_probe(config, tuple(shape), pixel_size_m, float(units.wavelength_m(energy_kev)))
    modes = _orthonormal_modes(main, config.n_modes)
    weights = mode_weights(config.n_modes, config.mode_decay)
    return (modes * np.sqrt(weights)[:, None, None]).astype(np.complex64)


def probe_guess(config: ProbeConfig, true_probe: np.ndarray, pixel_size_m: float = 1.0,
                energy_kev: float = 1.0) -> np.ndarray:
    """Initial probe for solvers, complex64 (n_modes_guess, n_y, n_x), per ``config.guess``.

    "true": a copy of ``true_probe`` (complex (n_modes, n_y, n_x)). "flat": the configured probe
    without its phase curvature or defocus, one mode, flat phase (what an experimenter knows from
    the optics: the aperture, not the aberrations), with the total power of ``true_probe``.
    "gaussian": one flat-phase Gaussian mode centred at (n_y // 2, n_x // 2), with the total power of
    ``true_probe`` and the second-moment widths (sigma_y, sigma_x) of its total intensity.
    pixel_size_m and energy_kev matter only for "flat" focused probes.
    """
    true_probe = np.asarray(true_probe)
    require(true_probe.ndim == 3, "true_probe.shape", true_probe.shape, "(n_modes, n_y, n_x)")
    if config.guess == "true":
        return true_probe.astype(np.complex64, copy=True)
    intensity = (np.abs(true_probe.astype(np.complex128)) ** 2).sum(axis=0)
    if config.guess == "flat":
        nominal = replace(config, curvature_rad=0.0, defocus_m=0.0, n_modes=1, guess="true")
        guess = np.abs(make_probe(nominal, intensity.shape, pixel_size_m, energy_kev)[0]).astype(np.float64)
    else:
        sigma_y, sigma_x = _rms_widths_px(intensity)
        y, x = _centred_px(intensity.shape)
        guess = np.exp(-(y / sigma_y) ** 2 / 4 - (x / sigma_x) ** 2 / 4)  # |.|^2 has sigma_y, sigma_x
    guess *= np.sqrt(intensity.sum() / (guess**2).sum())
    return guess[None].astype(np.complex64)


def support_extent_px(probe: np.ndarray) -> tuple[int, int]:
    """Bounding-box size (n_y, n_x) of the pixels with sum_k |P_k|^2 > 1e-6 of its maximum.

    probe: complex (..., n_y, n_x); the leading axes (modes) are summed incoherently.
    """
    intensity = (np.abs(np.asarray(probe)) ** 2).reshape((-1,) + np.shape(probe)[-2:]).sum(axis=0)
    lit = intensity > SUPPORT_THRESHOLD * intensity.max()
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def check_probe_fits(probe: np.ndarray, field_shape: tuple[int, int], name: str) -> None:
    """Raise ValueError naming ``name`` when the probe window exceeds ``field_shape``.

    probe: complex (..., n_y, n_x) probe array; field_shape: (n_y, n_x) of the field (object,
    detector frame) it must fit into. The support always lies inside the window; it is reported
    (see :func:`support_extent_px`) so that a user can tell whether cropping the window would do.
    """
    window = tuple(np.shape(probe)[-2:])
    if any(w > f for w, f in zip(window, field_shape)):
        support = support_extent_px(probe)
        raise ValueError(f"probe larger than the field: {name} = {tuple(field_shape)} cannot hold the probe "
                         f"window {window} (illuminated support {support}); enlarge {name} or crop the probe")
