"""Ptychographic iterative engines (numpy, baselines.epie): ePIE and rPIE. One iteration is one
sweep over every scan position in a random order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial

from cdibench import units
from cdibench.config import option
from cdibench.solvers.base import C8, MemoryParts, Range, Solver
from cdibench.solvers.common import Prepared, reconstruction, subpixel


@dataclass(frozen=True)
class PieConfig:
    """ePIE/rPIE sweeps (Maiden & Rodenburg 2009; Maiden, Johnson & Li 2017)."""

    iterations: int = option(100, "sweeps over every scan position")
    alpha: float = option(1.0, "object step size (rPIE: its regularisation)")
    beta: float = option(1.0, "probe step size (rPIE: its regularisation)")
    update_probe_after: int = option(0, "sweeps before the probe is updated")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "seed of the sweep order")
    refine_positions: bool = option(False, "correct the scan positions by cross-correlation (Zhang et al. 2013)")
    refine_positions_after: int = option(10, "sweeps before the positions are corrected")
    position_gain: float = option(10.0, "feedback gain on the measured drift of each object update")


def near_field(geometry):
    """The baselines' near-field geometry (plain numbers: the effective distance and pixel, which a
    cone beam's Geometry carries), or None for far-field detection."""
    from baselines import NearField

    if geometry.detection == "far":
        return None
    return NearField(float(geometry.distance_m), float(geometry.object_pixel_m),
                     float(units.wavelength_m(geometry.energy_kev)))


def _setup(rule: str, ds, config: PieConfig, device=None) -> Prepared:
    from baselines import PositionCorrection, pie_setup

    correction = (PositionCorrection(config.refine_positions_after, config.position_gain)
                  if config.refine_positions else None)
    run = pie_setup(rule, ds.intensities[0], ds.positions_px[0], ds.probe_guess, ds.object_shape,
                    alpha=config.alpha, beta=config.beta, mask=ds.mask if ds.mask.ndim == 2 else ds.mask[0],
                    rng=config.seed, update_probe_after=config.update_probe_after,
                    near_field=near_field(ds.geometry), refine_positions=correction)
    return Prepared(ds, config, run)


def _step(state: Prepared) -> float:
    from baselines import pie_sweep

    return pie_sweep(state.engine)


def _run(name: str, state: Prepared, recorder):
    from baselines import pie_estimate, pie_positions

    for n in range(state.config.iterations):
        error = _step(state)
        if recorder.record(n + 1, error, lambda: pie_estimate(state.engine)):
            break
    positions = pie_positions(state.engine)
    return reconstruction(name, state.config, recorder, **pie_estimate(state.engine),
                          positions_px=None if positions is None else positions[None])


def sweep_plan(dataset) -> Counter:
    """FFTs of one sweep at every angle: per position an FFT pair (m modes) for the modulus step (two
    pairs in near field: the angular spectrum is 2 FFTs each way), plus a pair for subpixel shifts."""
    m, w = dataset.probe_guess.shape[0], tuple(dataset.probe_guess.shape[-2:])
    per_position = (2 if dataset.geometry.detection == "far" else 4) + (2 if subpixel(dataset) else 0)
    return Counter({(m,) + w: dataset.n_angles * dataset.n_positions * per_position})


def sweep_memory(s) -> tuple[int, int, int]:
    """(data copies, state, working set) of one angle's sweeps: sqrt(I) then its ifftshift (2 copies
    at the peak of the set-up), the object complex64 and the probe and its spectrum, and the
    per-position exit waves, spectra and updates (4 (m, w, w))."""
    mode = C8 * s.n_modes * s.pattern_px ** 2
    return 2 * s.intensities_bytes // s.n_angles, C8 * s.grid[1] * s.grid[2] + 2 * mode, 4 * mode


def _memory(s, config, spec) -> MemoryParts:
    """:func:`sweep_memory`; near field adds the detector kernel to the state and its per-position
    product with the shift ramp to the working set (one (w, w) each)."""
    data, state, working = sweep_memory(s)
    near = C8 * s.pattern_px ** 2 if spec.geometry.detection == "near" else 0
    return MemoryParts(data, state + near, working + near)


def _solver(name: str, description: str, defaults: dict) -> Solver:
    return Solver(name, ("ptycho-far", "ptycho-near"), PieConfig, description, partial(_setup, name), partial(_run, name), _step,
                  defaults=defaults, backend="baselines", fft_plan=lambda dataset, config: ("scipy", sweep_plan(dataset)),
                  memory=_memory, tunable={"alpha": Range(0.01, 1.0), "beta": Range(0.01, 1.0)})


SOLVERS = (
    _solver("epie", "ePIE (Maiden & Rodenburg 2009), numpy", {}),
    _solver("rpie", "rPIE (Maiden, Johnson & Li 2017), numpy", {"alpha": 0.1}),
)
