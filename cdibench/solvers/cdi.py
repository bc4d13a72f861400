"""Classical single-pattern CDI (numpy, baselines.cdi): HIO/ER cycles and error reduction, with
the known support. One iteration is one modulus projection plus the support constraint."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import partial

import numpy as np

from cdibench.config import option, require
from cdibench.solvers.base import C8, MemoryParts, Range, Solver
from cdibench.solvers.common import Prepared, reconstruction


@dataclass(frozen=True)
class HioConfig:
    """Alternating HIO/ER cycles (er_iter = 0: pure HIO); ``iterations`` counts both kinds."""

    iterations: int = option(200, "iterations, HIO and ER together")
    hio_iter: int = option(40, "HIO iterations per cycle")
    er_iter: int = option(10, "ER iterations per cycle, after the HIO ones")
    beta: float = option(0.9, "HIO feedback parameter")
    shrinkwrap_every: int = option(0, "shrink-wrap the support after every this many cycles (0: never)")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "seed of the random-phase start")

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")
        require(self.hio_iter + self.er_iter > 0, "hio_iter", self.hio_iter, "hio_iter + er_iter > 0")


@dataclass(frozen=True)
class ErConfig:
    iterations: int = option(200, "ER iterations")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "seed of the random-phase start")

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")


def _cdi_object(ds, exit_wave: np.ndarray) -> np.ndarray:
    """Exit wave -> object: divide by the known plane-wave illumination (the probe of a CDI dataset)."""
    return (exit_wave * ds.support / ds.probe_guess[0]).astype(np.complex64)


def _setup(ds, config, cycle: tuple[int, int, float], shrinkwrap_every: int) -> Prepared:
    from baselines import hio_er_setup

    hio_iter, er_iter, beta = cycle
    n_cycles = math.ceil(config.iterations / (hio_iter + er_iter))
    run = hio_er_setup(np.sqrt(ds.intensities[0, 0]), ds.support, n_cycles, hio_iter, er_iter, beta,
                       shrinkwrap_every=shrinkwrap_every, mask=ds.mask if ds.mask.ndim == 2 else ds.mask[0, 0],
                       rng=config.seed)
    return Prepared(ds, config, run)


def _setup_hio(ds, config: HioConfig, device=None) -> Prepared:
    return _setup(ds, config, (config.hio_iter, config.er_iter, config.beta), config.shrinkwrap_every)


def _setup_er(ds, config: ErConfig, device=None) -> Prepared:
    return _setup(ds, config, (0, 1, 1.0), 0)  # ER alone: cycles of one ER iteration


def _step(state: Prepared) -> float:
    from baselines import hio_er_step

    return hio_er_step(state.engine)


def _run(name: str, state: Prepared, recorder):
    ds, run = state.dataset, state.engine
    for n in range(state.config.iterations):
        error = _step(state)
        if recorder.record(n + 1, error, lambda: {"object": _cdi_object(ds, run.estimate)}):
            break
    return reconstruction(name, state.config, recorder, object=_cdi_object(ds, run.estimate))


def _fft_plan(dataset, config):
    """One FFT pair (n x n) per iteration."""
    return "scipy", Counter({tuple(dataset.pattern_shape): 2})


def _memory(s, config, spec) -> MemoryParts:
    """Amplitudes, support, a few complex64 (w, w) iterates: 6 (w, w) complex64."""
    return MemoryParts(s.intensities_bytes, 0, 6 * C8 * s.pattern_px ** 2)


SOLVERS = (
    Solver("hio", ("cdi",), HioConfig, "HIO/ER cycles (Fienup 1982), numpy", _setup_hio,
           partial(_run, "hio"), _step, backend="baselines", fft_plan=_fft_plan, memory=_memory,
           tunable={"beta": Range(0.5, 1.0), "hio_iter": Range(5, 100, integer=True)}),
    Solver("er", ("cdi",), ErConfig, "error reduction (Fienup 1982), numpy", _setup_er,
           partial(_run, "er"), _step, backend="baselines", fft_plan=_fft_plan, memory=_memory),
)
