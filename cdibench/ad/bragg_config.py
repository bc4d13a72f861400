"""Config of the AD Bragg solver. No TensorFlow here (the registry reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from cdibench.ad.config import FitConfig
from cdibench.config import option, require


@dataclass(frozen=True)
class BraggFitConfig(FitConfig):
    """FitConfig plus the crystal's depth, a support from the scan's illumination and shrink-wrap
    (Marchesini et al. 2003). The probe is known: refine_probe must stay false."""

    n_slices: int = option(0, "the crystal's depth in voxels (0: the spec's phantom.shape_px[0], else n_y)")
    refine_probe: bool = option(False, "must stay false: the probe is known")
    support_threshold: float = option(0.0, "zero the voxels the scan lights less than this fraction of "
                                           "the maximum after every step (0: no constraint)")
    shrinkwrap_threshold: float = option(0.0, "shrink-wrap: zero the voxels where the blurred amplitude "
                                              "is below this fraction of its maximum (0: off)")
    shrinkwrap_sigma_px: float = option(1.0, "rms of the shrink-wrap's Gaussian blur [voxels]")
    shrinkwrap_after: int = option(0, "iteration from which shrink-wrap applies after every step")

    def __post_init__(self):
        super().__post_init__()
        require(self.n_slices >= 0, "n_slices", self.n_slices, ">= 0")
        require(not self.refine_probe, "refine_probe", self.refine_probe,
                "false (ad-bragg reconstructs the crystal with the known probe)")
        require(0 <= self.support_threshold < 1, "support_threshold", self.support_threshold, "in [0, 1)")
        require(0 <= self.shrinkwrap_threshold < 1, "shrinkwrap_threshold", self.shrinkwrap_threshold, "in [0, 1)")
        require(self.shrinkwrap_sigma_px > 0, "shrinkwrap_sigma_px", self.shrinkwrap_sigma_px, "> 0 voxels")
        require(self.shrinkwrap_after >= 0, "shrinkwrap_after", self.shrinkwrap_after, ">= 0 iterations")
