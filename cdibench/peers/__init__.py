"""Established reconstruction codes run in the cdibench harness (optional extras).

Each adapter turns a cdibench :class:`~cdibench.data.dataset.Dataset` into the peer's own data and
model (``setup``, untimed), runs the peer's own optimiser (``run``, one epoch: ``step``), records
the per-iteration history through our Recorder and maps the result back onto OUR object grid, so
that the same metrics score every solver.

The peers (and PyTorch) are imported only when a peer solver runs: the core package, its tests and
its suites never need them. ``pip install cdibench[peers]`` installs cdtools and PyTorch;
``pip install cdibench[ptychi]`` installs pty-chi with the torch/torchvision pair it needs.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

from cdibench.kinds import kind


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


def require_single_angle_far_field(ds, solver: str) -> None:
    """Raise ValueError unless ``ds`` is a one-angle 'ptycho-far' dataset (what the peers handle)."""
    traits = kind(ds.kind)
    if not (traits.thin and traits.scanned and ds.geometry.detection == "far") or ds.n_angles != 1:
        raise ValueError(f"solver {solver!r} handles one-angle 'ptycho-far' datasets, got kind "
                         f"{ds.kind!r} with {ds.n_angles} angles")


@contextmanager
def torch_threads(n_threads: int):
    """torch's intra-op CPU threads set to ``n_threads`` inside the block (0: leave as is)."""
    import torch

    before = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def peer_provenance(target: str, peer: str, peer_version: str) -> dict:
    """What a peer adds to a result's provenance: the device, the peer's distribution name and
    version and torch's version (cdibench.harness.reconstruct adds the rest)."""
    import torch

    return {"device": "CPU" if target == "cpu" else target, "peer": peer, "peer_version": peer_version,
            "torch": torch.__version__}
