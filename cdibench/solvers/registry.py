"""The solver registry: name -> :class:`~cdibench.solvers.base.Solver`, read from the plug-in
modules of this package (each holds a tuple ``SOLVERS``). Nothing here knows a solver by name:
adding a solver is one plug-in module and one line in :data:`PLUGINS`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping

from cdibench.config import from_mapping
from cdibench.solvers import ad_bragg, ad_thin, ad_volume, cdi, peers, pie, tomography
from cdibench.solvers.base import Solver

#: The plug-in modules, in the order ``cdibench solvers`` lists their solvers.
PLUGINS = (cdi, pie, tomography, ad_thin, ad_volume, ad_bragg, peers)

SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    """Add ``solver`` to the registry (a plug-in outside this package, or a test's); its name must be new."""
    if solver.name in SOLVERS:
        raise ValueError(f"solver = {solver.name!r} is already registered: expected a new name")
    SOLVERS[solver.name] = solver
    return solver


for _module in PLUGINS:
    for _solver in _module.SOLVERS:
        register(_solver)


def get_solver(name: str) -> Solver:
    """The declaration of solver ``name``; a ValueError naming the known solvers for any other name."""
    try:
        return SOLVERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"solver = {name!r} is unknown: expected one of {', '.join(SOLVERS)}") from None


def missing_backend(name: str) -> str | None:
    """Why solver ``name`` cannot run here (its optional backend is not installed), or None."""
    requires = get_solver(name).requires
    if requires is None or importlib.util.find_spec(requires[0]) is not None:
        return None
    return f"solver {name!r} needs {requires[0]!r}, which is not installed: pip install 'cdibench[{requires[1]}]'"


def load_backend(name: str) -> None:
    """Import the solver's heavy backend (TensorFlow for AD solvers) ahead of a measured run, so
    that a run's memory and time are its own, not the library's start-up."""
    backend = get_solver(name).backend
    if backend is not None:
        importlib.import_module(backend)


def solver_config(name: str, options: Mapping | None = None, seed: int | None = None):
    """The solver's frozen config from its defaults updated by ``options`` (and ``seed``, for
    solvers with random choices); errors name the option."""
    solver = get_solver(name)
    merged = {**solver.defaults, **dict(options or {})}
    if seed is not None and "seed" in solver.config.__dataclass_fields__:
        merged.setdefault("seed", seed)
    return from_mapping(solver.config, merged, f"solver {name!r} option")
