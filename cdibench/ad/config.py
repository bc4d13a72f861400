"""Configs of the AD solvers. No TensorFlow here: the registry and the CLI read these without
loading TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

from cdibench.config import option, require

OPTIMIZER_NAMES = ("adam", "gd")
LOSS_NAMES = ("amplitude", "intensity", "poisson")


@dataclass(frozen=True)
class FitConfig:
    """Options of every AD solver (the meaning of each: ``cdibench solvers NAME``). XLA
    (jit_compile) fuses the elementwise work between FFTs: measured 1.2-4x faster per epoch on
    CPU, at a few seconds of compile time."""

    iterations: int = option(100, "epochs (passes over every position of every angle)")
    optimizer: str = option("adam", f"one of {', '.join(OPTIMIZER_NAMES)}")
    learning_rate: float = option(0.01, "learning rate of the object / volume unknowns")
    probe_learning_rate: float | None = option(None, "learning rate of the probe (None: learning_rate)")
    decay_to: float = option(1.0, "fraction of the learning rates reached at the last iteration "
                                  "(geometric decay per epoch; 1: constant)")
    refine_probe: bool = option(True, "refine the probe too")
    probe_after: int = option(0, "iterations before the probe is refined")
    batch_size: int = option(0, "positions per optimiser step (0: all positions of one angle)")
    loss: str = option("amplitude", f"data loss: one of {', '.join(LOSS_NAMES)}")
    tv_weight: float = option(0.0, "weight of the total-variation regulariser on the object / volume")
    l1_weight: float = option(0.0, "weight of the L1 regulariser on the object / volume")
    refine_flux: bool = option(False, "refine a per-frame incident-flux scale (mean fixed to 1)")
    flux_learning_rate: float = option(0.02, "learning rate of the flux scales (relative: they are ~1)")
    refine_background: bool = option(False, "refine a detector background per pixel, constant over frames, >= 0")
    background_learning_rate: float = option(0.01, "learning rate of the background, in units of the "
                                                    "data's mean photons per pixel")
    refine_positions: bool = option(False, "refine the scan positions (subpixel Fourier shifts about the recorded "
                                           "whole-pixel windows; mean correction per angle fixed to 0)")
    position_learning_rate: float = option(0.02, "learning rate of the position corrections, px per step")
    jit_compile: bool = option(True, "XLA-compile the epoch")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "seed of the minibatch order")

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")
        require(self.optimizer in OPTIMIZER_NAMES, "optimizer", self.optimizer, f"one of {list(OPTIMIZER_NAMES)}")
        require(self.loss in LOSS_NAMES, "loss", self.loss, f"one of {list(LOSS_NAMES)}")
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        require(self.probe_learning_rate is None or self.probe_learning_rate > 0, "probe_learning_rate",
                self.probe_learning_rate, "> 0")
        require(self.flux_learning_rate > 0, "flux_learning_rate", self.flux_learning_rate, "> 0")
        require(self.background_learning_rate > 0, "background_learning_rate", self.background_learning_rate, "> 0")
        require(self.position_learning_rate > 0, "position_learning_rate", self.position_learning_rate, "> 0")
        require(0 < self.decay_to <= 1, "decay_to", self.decay_to, "in (0, 1]")
        require(self.batch_size >= 0, "batch_size", self.batch_size, ">= 0")
        require(self.tv_weight >= 0 and self.l1_weight >= 0, "tv_weight", self.tv_weight, ">= 0")
        require(self.metrics_every >= 1, "metrics_every", self.metrics_every, ">= 1")


@dataclass(frozen=True)
class VolumeFitConfig(FitConfig):
    """FitConfig plus the reconstruction volume's slice count and the choice of a
    projection-approximation model."""

    n_slices: int = option(0, "slices of the volume (0: the sample thickness stated in the dataset's "
                              "spec, in voxels, else as many slices as columns)")
    refine_probe: bool = option(False, "refine the probe too (never for full-field tomography)")
    projection_approximation: bool = option(False, "no diffraction inside the sample: one projected slice")

    def __post_init__(self):
        super().__post_init__()
        require(self.n_slices >= 0, "n_slices", self.n_slices, ">= 0")
