"""Input checks shared by the metrics modules: every failure is a ValueError naming the argument."""

from __future__ import annotations

import numpy as np


def as_finite(name: str, array, *, ndim: tuple[int, ...] | None = None, real: bool = False) -> np.ndarray:
    """Return ``array`` as an ndarray after checking dimensionality, realness and finiteness."""
    array = np.asarray(array)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if ndim is not None and array.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if real and np.iscomplexobj(array):
        raise ValueError(f"{name} must be real, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise if ``a`` and ``b`` differ in shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {a.shape} does not match {name_b} shape {b.shape}")


def region_mask(region, shape: tuple[int, ...], name: str = "region") -> np.ndarray:
    """Bool mask of ``shape`` (all True when ``region`` is None); raises if shaped wrong or empty."""
    if region is None:
        return np.ones(shape, dtype=bool)
    region = np.asarray(region)
    if region.shape != tuple(shape):
        raise ValueError(f"{name} shape {region.shape} does not match the image shape {tuple(shape)}")
    if region.dtype != bool:
        if not np.all(np.isfinite(region)):
            raise ValueError(f"{name} contains NaN or infinite values")
        region = region != 0
    if not region.any():
        raise ValueError(f"{name} is empty: no pixel selected")
    return region


def weight_map(weights, shape: tuple[int, ...], name: str = "weights") -> np.ndarray:
    """Non-negative float64 weights of ``shape`` (ones when None); bool masks become 0/1."""
    if weights is None:
        return np.ones(shape, dtype=np.float64)
    weights = as_finite(name, weights, real=True)
    if weights.shape != tuple(shape):
        raise ValueError(f"{name} shape {weights.shape} does not match the image shape {tuple(shape)}")
    weights = weights.astype(np.float64)
    if np.any(weights < 0):
        raise ValueError(f"{name} must be non-negative")
    if not np.any(weights > 0):
        raise ValueError(f"{name} is zero everywhere: empty region")
    return weights


def image_pair(estimate, truth, *, ndim: tuple[int, ...] | None = None, real: bool = False,
               names: tuple[str, str] = ("estimate", "truth")) -> tuple[np.ndarray, np.ndarray]:
    """Check and return ``(estimate, truth)`` as finite arrays of equal shape (errors use ``names``)."""
    estimate = as_finite(names[0], estimate, ndim=ndim, real=real)
    truth = as_finite(names[1], truth, ndim=ndim, real=real)
    same_shape(names[0], estimate, names[1], truth)
    return estimate, truth
