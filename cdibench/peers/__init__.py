"""Established reconstruction codes run in the cdibench harness (optional extras).

Each adapter turns a cdibench :class:`~cdibench.dataset.Dataset` into the peer's own data and
model, runs the peer's own optimiser, records the per-iteration history through our Recorder and
maps the result back onto OUR object grid, so that the same metrics score every solver.

The peers (and PyTorch) are imported only when a peer solver runs: the core package, its tests and
its suites never need them. ``pip install cdibench[peers]`` installs cdtools and PyTorch.
"""

from __future__ import annotations

import importlib


def require(module: str, solver: str, extra: str):
    """Import ``module`` or raise a ValueError naming the solver and the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"solver {solver!r} needs the optional extra: pip install cdibench[{extra}] "
                         f"({module} could not be imported: {exc})") from None


def torch_device(device: str | None) -> str:
    """cdibench's TensorFlow-style device name ("/GPU:0", "/CPU:0", None) -> a torch device."""
    import torch

    if device and "GPU" in device.upper():
        index = device.rsplit(":", 1)[-1]
        if not torch.cuda.is_available():
            raise ValueError(f"device = {device!r}: torch sees no CUDA device (torch {torch.__version__})")
        return f"cuda:{int(index) if index.isdigit() else 0}"
    return "cpu"
