"""Provenance of every result: package version, git commit, interpreter, libraries, host.

Low in the layers: datasets (the simulator, CXI files), reconstructions and records all carry it.

setuptools-scm makes the version from git tags and commits when cdibench is built, and writes
the commit into cdibench/_version.py (pyproject.toml: [tool.setuptools_scm]), so an installed
copy knows where it came from. A git checkout reports its live commit instead: its build-time
file is as old as its last ``pip install -e``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np


def package_version() -> str:
    """The installed distribution's version, e.g. '0.1.1.dev42+g1a2b3c4d5' (from the package metadata)."""
    try:
        return importlib.metadata.version("cdibench")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _live_commit(root: Path) -> str | None:
    """HEAD of the checkout at ``root`` ('+dirty' when tracked files are modified); None without git."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _built_commit() -> str | None:
    """The commit recorded when this copy was built; None when built without git metadata."""
    try:
        from cdibench import _version
    except ImportError:  # run from a source tree that was never built or installed
        return None
    if not _version.commit:
        return None
    return _version.commit.removeprefix("g") + ("+dirty" if _version.dirty else "")


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit cdibench runs from: a checkout's live HEAD, an installed copy's built one, or 'unknown'."""
    root = Path(files("cdibench")).parent
    if (root / ".git").exists():  # a checkout (a worktree's .git is a file)
        return _live_commit(root) or "unknown"
    return _built_commit() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tensorflow_version() -> str | None:
    """TensorFlow's version without importing it (the simulator never loads TensorFlow)."""
    return _version("tensorflow") or _version("tensorflow-cpu")


def provenance(seed: int | None = None, device: str = "CPU") -> dict:
    """A flat, JSON-able record of where and with what a result was made."""
    record = {
        "cdibench_version": package_version(), "git_commit": git_commit(),
        "python": sys.version.split()[0], "numpy": np.__version__, "scipy": _version("scipy"),
        "h5py": _version("h5py"), "tensorflow": tensorflow_version(), "platform": platform.platform(),
        "cpu": cpu_model(), "n_cpus": os.cpu_count(), "device": device,
    }
    if seed is not None:
        record["seed"] = seed
    return record
