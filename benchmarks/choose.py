"""Which solvers a benchmark times, read from the solver registry by kind and backend, never by
name: a new plug-in is benchmarked by declaring its kinds and a ``step``.

Benchmarked are the solvers that ship with cdibench (no optional extra: the peers are compared by
the runner, not here) and declare a ``step``. "Classical" solvers run on numpy (their backend is
``baselines``); "AD" solvers run on TensorFlow (their backend is a cdibench.ad module, the only
package importing it).
"""

from __future__ import annotations

from cdibench.solvers.registry import SOLVERS, load_backend, missing_backend

AD_BACKEND = "cdibench.ad"


def is_ad(name: str) -> bool:
    """True for an AD solver (TensorFlow backend), False for a classical one."""
    backend = SOLVERS[name].backend
    return backend is not None and (backend == AD_BACKEND or backend.startswith(AD_BACKEND + "."))


def solvers(kind_name: str, ad: bool | None = None) -> list[str]:
    """The benchmarked solvers of kind ``kind_name``, in registry order; ``ad``: only the AD
    solvers (True) or only the classical ones (False)."""
    return [name for name, solver in SOLVERS.items()
            if kind_name in solver.kinds and solver.requires is None and solver.step is not None
            and (ad is None or is_ad(name) == ad)]


def leads(kind_name: str, ad: bool | None = None) -> list[str]:
    """The lead solvers of kind ``kind_name``: the first classical and the first AD solver in
    registry order (a family declares its reference solver first), or only one of them (``ad``)."""
    out = []
    for flag in (False, True):
        found = solvers(kind_name, flag) if ad in (None, flag) else []
        out += found[:1]
    return out


def require_backend(name: str) -> None:
    """Raise NotImplementedError (asv: skipped) when solver ``name`` cannot run here: its optional
    extra is missing or its backend (TensorFlow for AD) does not import."""
    missing = missing_backend(name)
    if missing:
        raise NotImplementedError(missing)
    try:
        load_backend(name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise NotImplementedError(f"solver {name!r}: its backend is not importable: {exc}") from None
