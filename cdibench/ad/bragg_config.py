"""Config of the AD Bragg solver ('ad-bragg'). No TensorFlow here (the registry reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from cdibench.ad.config import FitConfig
from cdibench.config import require


@dataclass(frozen=True)
class BraggFitConfig(FitConfig):
    """FitConfig plus: n_slices, the crystal's depth in voxels (0: the spec's phantom.shape_px[0],
    else n_y); support_threshold, zero the voxels the scan lights less than this fraction of the
    maximum after every step (0: no constraint); shrink-wrap, from iteration shrinkwrap_after on
    zero after every step the voxels where the amplitude blurred by a Gaussian of rms
    shrinkwrap_sigma_px voxels is below shrinkwrap_threshold of its maximum (0: off). The probe is
    known: refine_probe must stay false."""

    n_slices: int = 0
    refine_probe: bool = False
    support_threshold: float = 0.0
    shrinkwrap_threshold: float = 0.0
    shrinkwrap_sigma_px: float = 1.0
    shrinkwrap_after: int = 0

    def __post_init__(self):
        super().__post_init__()
        require(self.n_slices >= 0, "n_slices", self.n_slices, ">= 0")
        require(not self.refine_probe, "refine_probe", self.refine_probe,
                "false (ad-bragg reconstructs the crystal with the known probe)")
        require(0 <= self.support_threshold < 1, "support_threshold", self.support_threshold, "in [0, 1)")
        require(0 <= self.shrinkwrap_threshold < 1, "shrinkwrap_threshold", self.shrinkwrap_threshold, "in [0, 1)")
        require(self.shrinkwrap_sigma_px > 0, "shrinkwrap_sigma_px", self.shrinkwrap_sigma_px, "> 0 voxels")
        require(self.shrinkwrap_after >= 0, "shrinkwrap_after", self.shrinkwrap_after, ">= 0 iterations")
