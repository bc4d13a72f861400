"""The one atomic writer: every file cdibench writes appears whole or not at all.

Write to a temporary sibling (same folder, so ``os.replace`` is an atomic rename on the same file
system), flush it to disk, make it world-readable like a normal file, then rename it onto the
target. On any error, the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path``.

    suffix: of the temporary file (some writers pick the format from it). The parent folder is
    created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path, text: str) -> Path:
    """Write a UTF-8 text file atomically; returns its path."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path, data: dict) -> Path:
    """Write ``data`` as indented JSON atomically (numpy scalars as floats); returns its path."""
    return write_text_atomic(path, json.dumps(data, indent=1, default=float))
