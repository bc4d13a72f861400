"""Input validation at the entry of every public baseline: ``ValueError`` naming the argument, the bad
value and what was expected, raised before any iteration runs."""

from __future__ import annotations

import numbers

import numpy as np

_KINDS = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "float", "c": "complex"}


def fail(name: str, got: str, expected: str) -> None:
    """Raise the house ValueError: argument name, what was given, what was expected."""
    raise ValueError(f"{name}: got {got}, expected {expected}")


def array(name: str, value, kinds: str, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """``value`` as an array of one of the dtype ``kinds`` (numpy kind letters), with the given ndim or
    shape and only finite entries."""
    a = np.asarray(value)
    if a.dtype.kind not in kinds:
        fail(name, f"dtype {a.dtype}", "dtype " + " or ".join(_KINDS[k] for k in kinds))
    if ndim is not None and a.ndim != ndim:
        fail(name, f"shape {a.shape} ({a.ndim}-D)", f"a {ndim}-D array")
    if shape is not None and a.shape != tuple(shape):
        fail(name, f"shape {a.shape}", f"shape {tuple(shape)}")
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        fail(name, f"{a[index]} at index {index}", "finite values only")
    return a


def nonnegative(name: str, a: np.ndarray) -> None:
    """Raise unless every entry of the real array ``a`` is >= 0."""
    if np.any(a < 0):
        index = tuple(int(i) for i in np.argwhere(a < 0)[0])
        fail(name, f"{a[index]} at index {index}", "non-negative values")


def integer(name: str, value, minimum: int) -> int:
    """``value`` as an int >= minimum (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, repr(value), f"an integer >= {minimum}")
    if value < minimum:
        fail(name, repr(value), f"an integer >= {minimum}")
    return int(value)


def in_range(name: str, value, low: float, high: float) -> float:
    """``value`` as a float in the half-open interval (low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low < value <= high:
        fail(name, repr(value), f"a real number in ({low}, {high}]")
    return float(value)


def bad_pixels(name: str, mask, shapes: tuple[tuple, ...]) -> np.ndarray | None:
    """Mask (nonzero = bad pixel; bool or integer) as a bool array of one of ``shapes``; None passes."""
    if mask is None:
        return None
    a = array(name, mask, "biu")
    if a.shape not in [tuple(s) for s in shapes]:
        fail(name, f"shape {a.shape}", " or ".join(f"shape {tuple(s)}" for s in shapes))
    return a != 0


def support(name: str, value, shape: tuple[int, int]) -> np.ndarray:
    """Support (nonzero = inside; bool or integer) of the given shape as a non-empty bool array."""
    a = array(name, value, "biu", shape=shape) != 0
    if not a.any():
        fail(name, "an empty support (no nonzero pixel)", "at least one pixel inside the support")
    return a


def nonzero_modes(name: str, probe: np.ndarray) -> None:
    """Raise if any probe mode (leading axis) is identically zero."""
    zero = ~np.any(probe != 0, axis=(-2, -1))
    if np.any(zero):
        fail(name, f"all-zero mode(s) {np.flatnonzero(zero).tolist()}", "non-zero probe modes")


def positions(name: str, value, window: tuple[int, int], object_shape: tuple[int, int]) -> np.ndarray:
    """(n, 2) float (row, col) top-left corners; every window [floor(p), floor(p) + window) must lie
    inside the object. Returns float64 (n, 2)."""
    p = array(name, value, "iuf", ndim=2).astype(np.float64)
    if p.shape[1] != 2:
        fail(name, f"shape {p.shape}", "shape (n_positions, 2) as (row, col)")
    corners = np.floor(p)
    outside = np.any((corners < 0) | (corners + np.asarray(window) > np.asarray(object_shape)), axis=1)
    if np.any(outside):
        j = int(np.flatnonzero(outside)[0])
        fail(name, f"{p[j].tolist()} at index {j}",
              f"probe windows {tuple(window)} inside the object {tuple(object_shape)}: "
              f"0 <= floor(p) <= object_shape - window")
    return p


def shape2(name: str, value) -> tuple[int, int]:
    """A 2-tuple of positive ints."""
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 2 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape):
        fail(name, repr(value), "a tuple of two positive integers (n_y, n_x)")
    return int(shape[0]), int(shape[1])


def generator(value) -> np.random.Generator:
    """A ``np.random.Generator`` from a seed, SeedSequence, Generator or None."""
    try:
        return np.random.default_rng(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rng: got {value!r}, expected a seed, SeedSequence or np.random.Generator") from err


def callback(name: str, value) -> None:
    """Raise unless ``value`` is None or callable."""
    if value is not None and not callable(value):
        fail(name, repr(value), "None or a callable (iteration, state) -> bool | None")
