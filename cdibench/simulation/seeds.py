"""Named random streams of one simulation: children of ``numpy.random.SeedSequence(seed)``.

Each stochastic step draws from its own stream, so the same spec and seed give bit-identical data,
and a change in one step (say, more scan positions) leaves the draws of the others untouched. The
order of ``STREAMS`` fixes which child each name gets: append new names, never reorder.
"""

from __future__ import annotations

import numpy as np

STREAMS = ("phantom", "scan", "errors", "noise", "flux")


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per name of ``STREAMS``, spawned from ``SeedSequence(seed)`` in that order."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}
