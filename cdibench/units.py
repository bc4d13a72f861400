"""Unit conversions. SI inside the code; every conversion lives here.

Conventions
-----------
- Photon energy E [keV] <-> wavelength lambda [m]: lambda = h c / E.
- Depth of focus (DOF) of a resolution element dr: ``DOF = 5.2 dr^2 / lambda``
  (the convention of the seed study, REGIMES.md; Du et al. 2020 use 5.4). A sample of
  thickness t is "thick" when ``t / DOF > 1``.
- Fresnel number of a feature of size a at distance z: ``N_F = a^2 / (lambda z)``.
"""

from __future__ import annotations

import numpy as np

PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299792458.0
ELEMENTARY_CHARGE_C = 1.602176634e-19
HC_KEV_M = PLANCK_J_S * SPEED_OF_LIGHT_M_S / (ELEMENTARY_CHARGE_C * 1e3)
DOF_FACTOR = 5.2


def _positive(name: str, value):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def wavelength_m(energy_kev):
    """Photon wavelength [m] of energy [keV]."""
    return HC_KEV_M / _positive("energy_kev", energy_kev)


def energy_kev(wavelength_m):
    """Photon energy [keV] of wavelength [m]."""
    return HC_KEV_M / _positive("wavelength_m", wavelength_m)


def kev_to_joule(energy_kev):
    """Photon energy [keV] -> [J] (the CXI unit of ``source_1/energy``)."""
    return _positive("energy_kev", energy_kev) * 1e3 * ELEMENTARY_CHARGE_C


def joule_to_kev(energy_j):
    """Photon energy [J] -> [keV]."""
    return _positive("energy_j", energy_j) / (1e3 * ELEMENTARY_CHARGE_C)


def wavenumber_per_m(energy_kev):
    """k = 2 pi / lambda [rad/m]."""
    return 2 * np.pi / wavelength_m(energy_kev)


def depth_of_focus_m(resolution_m, energy_kev):
    """DOF = 5.2 dr^2 / lambda [m] for a resolution element ``resolution_m``."""
    return DOF_FACTOR * _positive("resolution_m", resolution_m) ** 2 / wavelength_m(energy_kev)


def dof_ratio(thickness_m, resolution_m, energy_kev):
    """R = thickness / DOF; R > 1 means beyond the depth of focus."""
    return _positive("thickness_m", thickness_m) / depth_of_focus_m(resolution_m, energy_kev)


def fresnel_number(size_m, distance_m, energy_kev):
    """N_F = a^2 / (lambda z)."""
    return _positive("size_m", size_m) ** 2 / (
        wavelength_m(energy_kev) * _positive("distance_m", distance_m))


def farfield_pixel_size_m(energy_kev, distance_m, detector_pixel_m, n_px):
    """Object-plane pixel of a Fraunhofer geometry: dx = lambda z / (N p) [m]."""
    return wavelength_m(energy_kev) * _positive("distance_m", distance_m) / (
        _positive("n_px", n_px) * _positive("detector_pixel_m", detector_pixel_m))
