"""Phantom registry: type name -> (config class, generator), and construction from a TOML table."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from cdibench.config import from_mapping
from cdibench.phantoms import crystal, thick, thin
from cdibench.phantoms.base import Phantom

PHANTOMS: dict[str, tuple[type, Callable[..., Phantom]]] = {
    "siemens-star": (thin.SiemensStarConfig, thin.siemens_star),
    "image": (thin.ImageConfig, thin.image),
    "blobs": (thin.BlobsConfig, thin.blobs),
    "foam": (thick.FoamConfig, thick.foam),
    "cone": (thick.ConeConfig, thick.cone),
    "chip": (thick.ChipConfig, thick.chip),
    "shepp-logan-3d": (thick.SheppLogan3DConfig, thick.shepp_logan_3d),
    "crystal": (crystal.CrystalConfig, crystal.crystal),
}


def phantom_config(type_name: str, params: Mapping):
    """The validated config of phantom ``type_name``; unknown type or keys raise naming ``phantom.<key>``."""
    if type_name not in PHANTOMS:
        raise ValueError(f"phantom.type = {type_name!r} is unknown: expected one of "
                         f"{', '.join(sorted(PHANTOMS))}")
    return from_mapping(PHANTOMS[type_name][0], params, "phantom")


def make_phantom(type_name: str, params: Mapping, shape_px, voxel_size_m: float, energy_kev: float,
                 rng) -> Phantom:
    """Build phantom ``type_name`` from ``params`` (the TOML ``[phantom]`` table without ``type``).

    shape_px = (n_z, n_y, n_x); voxel_size_m [m]; energy_kev [keV]; ``rng`` a seed or
    ``np.random.Generator``. Returns a Phantom with float32 delta, beta of shape ``shape_px``.
    """
    config = phantom_config(type_name, params)
    generate = PHANTOMS[type_name][1]
    return generate(config, tuple(shape_px), voxel_size_m, energy_kev, np.random.default_rng(rng))
