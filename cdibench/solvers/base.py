"""What a solver plug-in declares. The registry, the memory estimate, the FFT floor, the runner,
the CLI and the asv benchmarks read this declaration and nothing else.

A plug-in is a module of this package holding one or more :class:`Solver` objects (a family:
``epie`` and ``rpie`` share one module). The life of one run, in the benchopt manner:

    state = solver.setup(dataset, config, device)   # untimed: data preparation, model build, warm-up
    recon = solver.run(state, recorder)             # timed: the iterations, recorded by ``recorder``

and for the per-iteration benchmarks ``solver.step(state)`` runs exactly one iteration (one
epoch, sweep or cycle) of the same code ``run`` loops over. Both the numpy baselines and the AD
solvers are timed this way, so set-up is excluded from every per-iteration time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: (library, Counter of FFT shapes -> count per iteration): see cdibench.harness.floor.
FftPlan = tuple[str, Counter]

C8, F4, F8, I4 = 8, 4, 8, 4  # bytes of complex64, float32, float64, int32/uint32: for MemoryParts


@dataclass(frozen=True)
class Range:
    """A tunable option's search range (issue [5/7]: an equal tuning budget for every solver).

    low, high: bounds (inclusive); log: search on a log scale; integer: an integer option."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"Range({self.low}, {self.high}, log={self.log}) is invalid: expected "
                             "low < high (and low > 0 on a log scale)")


@dataclass(frozen=True)
class MemoryParts:
    """A run's arrays, in bytes, from the spec's sizes (cdibench.harness.memory.Shapes) and the
    config: what the plug-in's ``memory`` returns. See cdibench.harness.memory.MemoryEstimate for
    the meaning of each part. ``runtime_bytes``: the backend's measured fixed costs (0 for numpy)."""

    data_copies_bytes: int
    state_bytes: int
    working_bytes: int
    per_position_bytes: int = 0
    runtime_bytes: int = 0


@dataclass(frozen=True)
class Solver:
    """The declaration of one solver.

    name: what users type (``--solver``, suites). kinds: the experiment kinds it handles
    (cdibench.kinds). config: its frozen config dataclass (every field an option; see
    cdibench.config.option for the one-line meaning shown by ``cdibench solvers NAME``).
    defaults: option values that differ from the config's own defaults for this solver.
    setup(dataset, config, device) -> state: untimed (device: a TensorFlow device such as
    '/GPU:0', or None; numpy solvers ignore it). run(state, recorder) -> Reconstruction: timed; its
    provenance holds only what the solver alone knows (device, a peer's version): the rest is
    stamped by cdibench.harness.reconstruct (cdibench.solvers.common.reconstruction builds one).
    step(state) -> float: one iteration (asv), returns its loss or error.
    fft_plan(dataset, config) -> FftPlan | None: the FFTs of one iteration (None: FFTs do not
    dominate). memory(shapes, config, spec) -> MemoryParts | None (None: not modelled; the
    estimate is then a lower bound). tunable: option -> Range.
    metrics_during_run: per-iteration metrics are evaluated inside ``run`` (False: the result is
    scored once, after the run). backend: module imported before a measured run, so that its
    import is not the run's memory or time (TensorFlow for AD, baselines for numpy). requires:
    (module, pyproject extra) of an optional backend; without it the solver is listed but refuses to run.
    """

    name: str
    kinds: tuple[str, ...]
    config: type
    description: str
    setup: Callable[[Any, Any, str | None], Any]
    run: Callable[[Any, Any], Any]
    step: Callable[[Any], float] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fft_plan: Callable[[Any, Any], FftPlan | None] | None = None
    memory: Callable[[Any, Any, Any], MemoryParts | None] | None = None
    tunable: Mapping[str, Range] = field(default_factory=dict)
    metrics_during_run: bool = True
    backend: str | None = None
    requires: tuple[str, str] | None = None
