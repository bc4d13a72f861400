"""Complex refractive-index phantoms (delta, beta volumes): thin 2D test objects and thick 3D samples."""

from cdibench.phantoms.base import Phantom
from cdibench.phantoms.materials import MATERIALS, Material, material, refractive_index
from cdibench.phantoms.registry import PHANTOMS, make_phantom

__all__ = ["MATERIALS", "PHANTOMS", "Material", "Phantom", "make_phantom", "material",
           "refractive_index"]
