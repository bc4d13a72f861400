"""Run one solver on one dataset: the one code path that times every solver, numpy or AD.

The plug-in's ``setup`` (data preparation, model build, tracing and compilation) runs untimed;
the recorder's clock starts after it, so only ``run``'s iterations are timed. The result's history
has the loss, the wall time and, every ``metrics_every`` iterations, the metrics against the ground
truth (not timed); its provenance is stamped here (package version, commit, seed, TensorFlow
version, host), with what only the solver knows (its device, a peer's version) on top.
"""

from __future__ import annotations

from dataclasses import replace

from tqdm.auto import tqdm

from cdibench.data.reconstruction import Reconstruction, Recorder
from cdibench.data.validate import validate_dataset
from cdibench.metrics.evaluate import metric_function
from cdibench.provenance import provenance
from cdibench.solvers.registry import get_solver, solver_config


def reconstruct(dataset, name: str, config=None, *, progress: bool = True, device: str | None = None,
                max_wall_s: float | None = None) -> Reconstruction:
    """Run solver ``name`` on ``dataset`` (validated first); per-iteration metrics if truth is known.

    config: the solver's frozen config (default: :func:`~cdibench.solvers.registry.solver_config`);
    device: a TensorFlow device for AD solvers (e.g. '/GPU:0'); max_wall_s: a time budget, the
    solver stops after the iteration that spends it."""
    solver = get_solver(name)
    config = solver_config(name) if config is None else config
    if dataset.kind not in solver.kinds:
        raise ValueError(f"solver {name!r} handles kinds {solver.kinds}, not this dataset's kind {dataset.kind!r}")
    dataset = validate_dataset(dataset)
    total = getattr(config, "iterations", 1)
    bar = tqdm(total=total, desc=name, disable=not progress, leave=False)
    try:
        recorder = Recorder(metric_function(dataset), getattr(config, "metrics_every", 10), bar,
                            total=total, max_wall_s=max_wall_s)
        state = solver.setup(dataset, config, device)
        recorder.restart()
        rec = solver.run(state, recorder)
    finally:
        bar.close()
    return replace(rec, provenance={**provenance(seed=getattr(config, "seed", None)), **rec.provenance})
