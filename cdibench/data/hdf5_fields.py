"""Typed readers of HDF5 fields: each returns the value or raises an error naming the field's path,
the value found and what was expected (missing, wrong dtype or rank, not finite, out of range)."""

from __future__ import annotations

import h5py
import numpy as np


def node(f: h5py.File, path: str, required: bool = True, *alternatives: str):
    """The object at ``path`` (else at the first present alternative); None if optional and absent."""
    for where in (path, *alternatives):
        try:
            node = f.get(where)
        except (KeyError, TypeError, ValueError):
            node = None
        if node is not None:
            return node
    if required:
        also = f" (nor {', '.join(alternatives)})" if alternatives else ""
        raise ValueError(f"{path}: missing (required){also}, or a dangling link")
    return None


def dataset(f, path: str, kinds: str, ndims=None, required: bool = True, *alternatives: str):
    """The h5py dataset at ``path`` with dtype kind in ``kinds``; None if optional and absent."""
    item = node(f, path, required, *alternatives)
    if item is None:
        return None
    path = item.name.lstrip("/") if item.name else path
    if not isinstance(item, h5py.Dataset):
        raise TypeError(f"{path}: expected a dataset, got {type(item).__name__}")
    if item.dtype.kind not in kinds:
        raise TypeError(f"{path}: expected dtype kind in {kinds!r}, got {item.dtype}")
    if ndims is not None and item.ndim not in ndims:
        raise ValueError(f"{path}: expected {' or '.join(map(str, ndims))} dimensions, got shape {item.shape}")
    return item


def array(f, path: str, kinds: str, ndims=None, required: bool = True):
    """The dataset at ``path`` read as an ndarray (see ``dataset``)."""
    node = dataset(f, path, kinds, ndims, required)
    return None if node is None else np.asarray(node[()])


def number(f, path: str, unit: str, allow_zero: bool = False, required: bool = True):
    value = array(f, path, "fiu", required=required)
    if value is None:
        return None
    if value.size != 1:
        raise ValueError(f"{path}: expected a scalar in {unit}, got shape {value.shape}")
    x = float(value.reshape(()))
    if not (np.isfinite(x) and (x > 0 or (allow_zero and x == 0))):
        raise ValueError(f"{path}: expected a {'non-negative' if allow_zero else 'positive'} "
                         f"number in {unit}, got {x!r}")
    return x


def integers(f, path: str, shape: tuple, lo: int, hi: int, required: bool = True):
    value = array(f, path, "fiu", required=required)
    if value is None:
        return None
    if value.shape != shape and not (shape == () and value.shape == (1,)):
        raise ValueError(f"{path}: expected integer shape {shape}, got {value.shape}")
    if not (np.all(np.isfinite(value)) and np.all(value == np.round(value))
            and np.all((value >= lo) & (value <= hi))):
        raise ValueError(f"{path}: expected integers in [{lo}, {hi}], got {value.tolist()!r}")
    return value.astype(np.int64).reshape(shape)


def string(f, path: str, required: bool = True):
    value = array(f, path, "OSU", required=required)
    if value is None:
        return None
    if value.size != 1:
        raise ValueError(f"{path}: expected one string, got shape {value.shape}")
    value = value.reshape(()).item()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: expected a UTF-8 string, got undecodable bytes ({exc})") from None
    if not isinstance(value, str):
        raise TypeError(f"{path}: expected a string, got {type(value).__name__}")
    return value
