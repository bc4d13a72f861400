import numpy as np
import pytest

from cdibench import units


def test_wavelength_of_known_energies():
    # 12.398 keV <-> 1 Angstrom
    assert units.wavelength_m(12.39842) == pytest.approx(1e-10, rel=1e-5)
    assert units.energy_kev(units.wavelength_m(6.2)) == pytest.approx(6.2)


def test_joule_round_trip():
    assert units.kev_to_joule(1.0) == pytest.approx(1.602176634e-16)
    assert units.joule_to_kev(units.kev_to_joule(8.0)) == pytest.approx(8.0)


def test_depth_of_focus_convention():
    # DOF = 5.2 dr^2 / lambda; REGIMES.md: N = 32, dx = 1 nm, 0.954 keV -> R = 8
    lam = units.wavelength_m(0.954)
    assert units.depth_of_focus_m(1e-9, 0.954) == pytest.approx(5.2e-18 / lam)
    assert units.dof_ratio(32e-9, 1e-9, 0.954) == pytest.approx(8.0, rel=0.01)


def test_fresnel_number_and_farfield_pixel():
    assert units.fresnel_number(1e-6, 1.0, 12.39842) == pytest.approx(1e-12 / 1e-10, rel=1e-5)
    # the standard far-field case: 6.2 keV, 7 m, 172 um, 128 px -> 63.6 nm
    assert units.farfield_pixel_size_m(6.2, 7.0, 172e-6, 128) == pytest.approx(63.6e-9, rel=1e-3)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_energy_named(bad):
    with pytest.raises(ValueError, match="energy_kev"):
        units.wavelength_m(bad)
