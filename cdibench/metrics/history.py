"""Time to reach a target accuracy, from a solver's per-iteration metric history."""

from __future__ import annotations

import numpy as np

from cdibench.metrics._checks import as_finite


def time_to_target(wall_s, values, target: float, lower_is_better: bool = True) -> float | None:
    """First wall time [s] at which the metric history reaches ``target``; None if it never does.

    wall_s: (n,) non-decreasing wall-clock times of the records; values: (n,) the metric at those times
    (NaN allowed: a diverged record never counts as reached, and no interpolation crosses it);
    target: float; lower_is_better: True for errors (reached when ``value <= target``), False for
    similarities (``value >= target``). The time is linearly interpolated between the last record
    short of the target and the first one that reaches it; ``wall_s[0]`` if the first record does.
    An empty history returns None.
    """
    values = np.asarray(values, dtype=np.float64)
    wall_s = np.asarray(wall_s, dtype=np.float64)
    if wall_s.ndim != 1 or values.shape != wall_s.shape:
        raise ValueError(f"wall_s and values must be 1D of equal length, got {wall_s.shape} and {values.shape}")
    if not np.isfinite(target):
        raise ValueError(f"target must be finite, got {target!r}")
    if wall_s.size == 0:
        return None
    as_finite("wall_s", wall_s)
    if np.any(np.diff(wall_s) < 0):
        raise ValueError("wall_s must be non-decreasing")
    sign = 1.0 if lower_is_better else -1.0
    with np.errstate(invalid="ignore"):
        reached = sign * values <= sign * target  # False for NaN
    hits = np.nonzero(reached)[0]
    if hits.size == 0:
        return None
    i = int(hits[0])
    if i == 0 or not np.isfinite(values[i - 1]):
        return float(wall_s[i])
    fraction = (target - values[i - 1]) / (values[i] - values[i - 1])
    return float(wall_s[i - 1] + fraction * (wall_s[i] - wall_s[i - 1]))
