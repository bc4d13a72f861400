"""The dataset specs and suites shipped with cdibench (package data: cdibench/datasets/*.toml).

A spec is named (``quick-cdi``) or given by path. A name is looked up in a folder first (beside
the suite that names it, or the current directory), then among the shipped specs, so that an
installed cdibench runs its standard cases from any directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: the shipped specs (NAME.toml), suites (suite-NAME.toml) and their README; a real folder, as
#: pip installs a wheel unpacked (the checkout's top-level ``datasets`` links here)
SHIPPED_DIR = Path(files("cdibench") / "datasets")


def spec_names() -> list[str]:
    """Names of the shipped dataset specs."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.toml") if not p.stem.startswith("suite-"))


def suite_names() -> list[str]:
    """Names of the shipped suites (``micro`` for suite-micro.toml)."""
    return sorted(p.stem.removeprefix("suite-") for p in SHIPPED_DIR.glob("suite-*.toml"))


def find_spec(name_or_path: str, folder: Path = Path()) -> Path:
    """The spec file: a path relative to ``folder`` ('.toml' may be left off), else a shipped spec's name."""
    for path in (folder / name_or_path, folder / f"{name_or_path}.toml"):
        if path.is_file():
            return path
    if name_or_path in spec_names():
        return SHIPPED_DIR / f"{name_or_path}.toml"
    raise ValueError(f"spec file {name_or_path!r} does not exist: expected a TOML file or one of {spec_names()}")


def find_suite(name_or_path: str) -> Path:
    """The suite file: a path, else a shipped suite's name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if name_or_path in suite_names():
        return SHIPPED_DIR / f"suite-{name_or_path}.toml"
    raise ValueError(f"suite {name_or_path!r} not found: expected a file or one of {suite_names()}")
