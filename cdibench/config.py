"""Frozen config dataclasses from plain mappings (TOML tables), with errors that name the field;
:func:`option` declares a field with its one-line meaning (shown by ``cdibench solvers NAME``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping


def option(default, meaning: str):
    """A dataclass field with ``default`` and its one-line ``meaning`` (read by :func:`meaning`)."""
    return dataclasses.field(default=default, metadata={"meaning": meaning})


def meaning(field: dataclasses.Field) -> str:
    """The one-line meaning :func:`option` gave ``field`` ("" if none)."""
    return field.metadata.get("meaning", "")


def _check_type(path: str, value, annotation):
    """Coerce ``value`` to ``annotation`` where lossless (int -> float, list -> tuple); else raise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(path, value, option)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(errors[0] if errors else f"{path}: unexpected value {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{path} must be a list, got {type(value).__name__} {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_type(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{path} must have {len(args)} entries, got {len(value)}: {value!r}")
        return tuple(_check_type(f"{path}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{path} must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{path} must be an integer, got {type(value).__name__} {value!r}")
        return value
    if annotation in (str, bool):
        if not isinstance(value, annotation):
            raise TypeError(f"{path} must be a {annotation.__name__}, got {type(value).__name__} {value!r}")
        return value
    if dataclasses.is_dataclass(annotation):
        return from_mapping(annotation, value, path)
    return value


def from_mapping(cls, mapping, path: str = ""):
    """Build frozen dataclass ``cls`` from ``mapping``; unknown or mistyped keys raise, naming the key.

    ``path`` is the dotted prefix used in messages (for example ``"probe"``).
    """
    where = path or cls.__name__
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{where} must be a table, got {type(mapping).__name__} {mapping!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ValueError(f"unknown key {', '.join(f'{path}.{k}' if path else k for k in unknown)}; "
                         f"expected one of: {', '.join(sorted(fields))}")
    kwargs = {name: _check_type(f"{path}.{name}" if path else name, value, hints[name])
              for name, value in mapping.items()}
    return cls(**kwargs)


def to_mapping(obj) -> dict:
    """Frozen dataclass -> nested plain dict (tuples as lists, None dropped), TOML-ready."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_mapping(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def require(condition: bool, path: str, value, expected: str):
    """Raise ValueError naming ``path``, ``value`` and what was expected unless ``condition``."""
    if not condition:
        raise ValueError(f"{path} = {value!r} is invalid: expected {expected}")
