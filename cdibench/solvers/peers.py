"""Peers (optional extras): established ptychography codes run in the same harness
(cdibench/peers/). The peer and PyTorch are imported only when such a solver is set up; without
them it is listed but refuses to run, naming the extra to install. Their memory is not modelled
(the estimate is a lower bound) and they have no FFT plan."""

from __future__ import annotations

from functools import partial

from cdibench.peers import cdtools_adapter, ptychi_adapter
from cdibench.peers.cdtools_adapter import CdtoolsConfig
from cdibench.peers.ptychi_adapter import (
    PtychiDmConfig,
    PtychiEpieConfig,
    PtychiLsqmlConfig,
)
from cdibench.solvers.base import Range, Solver

_EPOCHS = {"batch_size": Range(1, 256, log=True, integer=True)}


def _ptychi(name: str, engine: str, config: type, description: str, tunable: dict) -> Solver:
    return Solver(name, ("ptycho-far",), config, f"pty-chi {description} (PyTorch; extra: ptychi)",
                  partial(ptychi_adapter.setup, name, engine),
                  ptychi_adapter.run, ptychi_adapter.step, tunable=tunable, requires=("ptychi", "ptychi"))


SOLVERS = (
    Solver("cdtools-fancyptycho", ("ptycho-far",), CdtoolsConfig,
           "cdtools FancyPtycho with its Adam loop (PyTorch; extra: peers)",
           partial(cdtools_adapter.setup, "cdtools-fancyptycho"),
           cdtools_adapter.run, cdtools_adapter.step, defaults={"lr": 0.005},
           tunable={"lr": Range(1e-4, 0.1, log=True), **_EPOCHS}, requires=("cdtools", "peers")),
    _ptychi("ptychi-lsqml", "LSQML", PtychiLsqmlConfig, "LSQML", {"step_scale": Range(0.1, 1.0), **_EPOCHS}),
    _ptychi("ptychi-dm", "DM", PtychiDmConfig, "difference map", {"relaxation": Range(0.5, 1.0)}),
    _ptychi("ptychi-epie", "EPIE", PtychiEpieConfig, "ePIE",
            {"object_alpha": Range(0.01, 1.0), "probe_alpha": Range(0.01, 1.0), **_EPOCHS}),
)
