"""X-ray refractive indices of materials: n = 1 - delta + i beta, from tabulated scattering factors.

The constants come from ``periodictable.xsf`` (Henke/CXRO tables, about 0.03-30 keV). Values are
dimensionless; densities in g/cm^3, energies in keV.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import periodictable
import periodictable.xsf

from cdibench.config import require


@functools.lru_cache(maxsize=512)
def refractive_index(formula: str, density_g_cm3: float, energy_kev: float) -> tuple[float, float]:
    """(delta, beta), both > 0, of ``formula`` at ``density_g_cm3`` [g/cm^3] and ``energy_kev`` [keV].

    n = 1 - delta + i beta. periodictable returns n = 1 - delta - i beta, hence the sign flip.
    Raises ValueError naming the argument for a bad formula, density or energy (outside the tables).
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"formula = {formula!r} is invalid: expected a chemical formula like 'SiO2'")
    for name, value in (("density_g_cm3", density_g_cm3), ("energy_kev", energy_kev)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
                or not math.isfinite(value):
            raise ValueError(f"{name} = {value!r} is invalid: expected a finite number > 0")
    try:
        n = periodictable.xsf.index_of_refraction(formula, density=float(density_g_cm3),
                                                  energy=float(energy_kev))
    except Exception as exc:  # periodictable raises ValueError or pyparsing's ParseException
        raise ValueError(f"formula = {formula!r} is invalid: {exc}") from exc
    delta, beta = 1.0 - float(n.real), -float(n.imag)
    if not (math.isfinite(delta) and math.isfinite(beta)):
        # NaN outside the tabulated range of the scattering factors
        raise ValueError(f"energy_kev = {energy_kev!r} is invalid: outside the tabulated range "
                         f"of {formula!r} (about 0.03-30 keV)")
    if not (delta > 0 and beta > 0):
        raise ValueError(f"formula = {formula!r} is invalid: gives delta = {delta}, beta = {beta}; "
                         f"expected a material with delta, beta > 0")
    return delta, beta


def _check_formula(formula: str) -> None:
    """Raise ValueError unless ``formula`` parses to a non-empty chemical formula."""
    try:
        parsed = periodictable.formula(formula)
    except Exception as exc:
        raise ValueError(f"formula = {formula!r} is invalid: {exc}") from exc
    if not parsed.atoms:
        raise ValueError(f"formula = {formula!r} is invalid: expected a chemical formula like 'SiO2'")


@dataclass(frozen=True)
class Material:
    """A homogeneous material: chemical ``formula`` at ``density_g_cm3`` [g/cm^3]."""

    formula: str
    density_g_cm3: float

    def __post_init__(self):
        _check_formula(self.formula)
        require(isinstance(self.density_g_cm3, numbers.Real) and self.density_g_cm3 > 0,
                "density_g_cm3", self.density_g_cm3, "a number > 0 [g/cm^3]")

    def index(self, energy_kev: float) -> tuple[float, float]:
        """(delta, beta) at ``energy_kev`` [keV]."""
        return refractive_index(self.formula, float(self.density_g_cm3), float(energy_kev))

    def describe(self, name: str, energy_kev: float) -> dict:
        """Plain-number record for ``Phantom.meta``: name, formula, density, delta, beta."""
        delta, beta = self.index(energy_kev)
        return {"name": name, "formula": self.formula, "density_g_cm3": float(self.density_g_cm3),
                "delta": delta, "beta": beta}


# Named defaults; densities of the bulk (carbon: amorphous-carbon-like, sio2: thermal oxide/glass).
MATERIALS: dict[str, Material] = {
    "gold": Material("Au", 19.32),
    "carbon": Material("C", 2.0),
    "silicon": Material("Si", 2.33),
    "sio2": Material("SiO2", 2.2),
    "copper": Material("Cu", 8.96),
    "tungsten": Material("W", 19.3),
    "water": Material("H2O", 1.0),
    "pmma": Material("C5H8O2", 1.18),
    "tio2": Material("TiO2", 4.23),
}


def material(name_or_formula: str, density: float | None = None, path: str = "material") -> Material:
    """A named material from MATERIALS (case-insensitive) or a formula with an explicit density.

    ``density`` [g/cm^3] overrides a named material's default and is required for a bare formula.
    Errors name ``path`` (the config field) and the value.
    """
    require(isinstance(name_or_formula, str) and name_or_formula.strip() != "", path,
            name_or_formula, f"a name in {sorted(MATERIALS)} or a chemical formula")
    require(density is None or (isinstance(density, numbers.Real) and density > 0),
            f"{path}_density_g_cm3", density, "a number > 0 [g/cm^3] or absent")
    named = MATERIALS.get(name_or_formula.strip().lower())
    if named is not None:
        return named if density is None else Material(named.formula, float(density))
    require(density is not None, f"{path}_density_g_cm3", density,
            f"a density for formula {name_or_formula!r} (not one of {sorted(MATERIALS)})")
    try:
        return Material(name_or_formula.strip(), float(density))
    except ValueError as exc:
        raise ValueError(f"{path} = {name_or_formula!r} is invalid: expected a name in "
                         f"{sorted(MATERIALS)} or a chemical formula ({exc})") from None
