"""What several plug-ins share: the prepared state of a run, the Reconstruction they return, and
whether a dataset's scan positions need subpixel shifts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cdibench.data.reconstruction import Reconstruction
from cdibench.physics.ptychography import split_positions


@dataclass(frozen=True)
class Prepared:
    """What a plug-in's ``setup`` hands to its ``run`` and ``step``: the (validated) dataset, the
    config and the backend's own state (prepared data, model, compiled step...)."""

    dataset: Any
    config: Any
    engine: Any


def reconstruction(name: str, config, recorder, **fields) -> Reconstruction:
    """The Reconstruction of solver ``name``: its config, the recorder's history, and ``fields``
    (arrays, status, message; ``provenance``: what only the solver knows, such as its device;
    cdibench.harness.reconstruct adds the rest)."""
    return Reconstruction(solver=name, config=asdict(config), history=recorder.history(), **fields)


def subpixel(dataset) -> bool:
    """Whether any recorded scan position has a fractional part (an FFT shift per position)."""
    return bool(np.any(split_positions(dataset.positions_px.reshape(-1, 2))[1]))
