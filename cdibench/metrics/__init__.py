"""Metrics: align a reconstruction to ground truth (the ambiguities phase retrieval cannot resolve:
twin, shift, phase ramp, global phase, scale), then score it (NRMSE, SSIM, PSNR, FRC/FSC resolution,
time to target). numpy/scipy/scikit-image only.

Modules: :mod:`.shift` (Fourier shift, registration), :mod:`.phase` (global phase, ramp, twin),
:mod:`.alignment` (the alignment pipeline), :mod:`.scores` (NRMSE, SSIM, PSNR, per-case bundles),
:mod:`.correlation` (FRC, FSC, 1/2-bit threshold), :mod:`.history` (time to target).
"""

from cdibench.metrics.alignment import align
from cdibench.metrics.history import time_to_target
from cdibench.metrics.phase import apply_phase_ramp, fit_phase_ramp, global_phase, remove_phase_ramp, twin
from cdibench.metrics.correlation import frc, fsc, half_bit_threshold, resolution
from cdibench.metrics.scores import default_data_range, nrmse, psnr, score_complex, score_volume, ssim
from cdibench.metrics.shift import apply_shift, register_shift

__all__ = [
    "align", "apply_phase_ramp", "apply_shift", "default_data_range", "fit_phase_ramp", "frc", "fsc",
    "global_phase", "half_bit_threshold", "nrmse", "psnr", "register_shift", "remove_phase_ramp",
    "resolution", "score_complex", "score_volume", "ssim", "time_to_target", "twin",
]
