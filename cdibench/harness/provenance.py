"""Provenance of every result: package version, git commit, interpreter, libraries, host."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_version() -> str:
    return _version("cdibench") or "0+unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the source tree cdibench runs from ('+dirty' when modified), or 'unknown'."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


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
