"""The asv suite in benchmarks/: every module imports, every benchmark runs its setup and one call,
no benchmark names a solver (they read the registry), and ``asv check`` accepts the suite.

Each benchmark runs once per value of its categorical (string) parameters and at the smallest
value of each numeric one; the accuracy benchmarks run with a few iterations instead of their
budget (this checks the machinery, not the numbers: those live in the asv results). Cases that
asv would skip (slow cases, no TensorFlow) are skipped here too.
"""

import ast
import functools
import importlib
import itertools
import numbers
import pkgutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")

# Small budgets for the reconstructions the track_ benchmarks run in setup_cache.
FAST = {
    "PtychoAccuracy": {"ITERATIONS": 3},
    "PtychoTimeToTarget": {"MAX_ITERATIONS": 4, "METRICS_EVERY": 2},
    "TomoAccuracy": {"AD_OPTIONS": {"iterations": 1}, "CLASSICAL_OPTIONS": {"iterations": 1}},
}


def _import_suite() -> list:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    package = importlib.import_module("benchmarks")
    return [importlib.import_module(f"benchmarks.{m.name}") for m in pkgutil.iter_modules(package.__path__)]


MODULES = _import_suite()


def _classes():
    for module in MODULES:
        for name, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and not name.startswith("_"):
                methods = sorted(m for m in dir(obj) if m.startswith(PREFIXES))
                if methods:
                    yield obj, methods


def _param_lists(cls) -> list[list]:
    params = list(getattr(cls, "params", []))
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]  # asv's shorthand for one parameter
    return params


def _combinations(cls) -> list[tuple]:
    """Every string value; the smallest numeric value."""
    chosen = [values if isinstance(values[0], str) else [min(values)] for values in _param_lists(cls)]
    return list(itertools.product(*chosen))


CASES = [pytest.param(cls, method, combo, id=f"{cls.__module__.split('.')[-1]}.{cls.__name__}.{method}"
                      + "".join(f"-{v}" for v in combo))
         for cls, methods in _classes() for method in methods for combo in _combinations(cls)]


@functools.lru_cache(maxsize=None)
def _setup_cache(cls):
    fast = FAST.get(cls.__name__)
    if not fast:
        return cls().setup_cache()
    with mock.patch.multiple(cls, **fast):
        return cls().setup_cache()


def test_suite_has_every_kind_of_benchmark():
    names = {m.__name__.split(".")[-1] for m in MODULES}
    assert {"common", "bench_forward", "bench_solvers", "bench_scaling"} <= names
    methods = [m for _, ms in _classes() for m in ms]
    for prefix in ("time_", "peakmem_", "track_"):
        assert any(m.startswith(prefix) for m in methods), prefix
    for cls, ms in _classes():
        for m in ms:
            if m.startswith("track_"):
                assert getattr(getattr(cls, m), "unit", None), f"{cls.__name__}.{m} has no unit"


def _string_constants(tree: ast.AST) -> set[str]:
    """Every string literal of a module that is not a docstring."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def test_no_benchmark_names_a_solver():
    """Benchmarks pick solvers from the registry by kind and backend (benchmarks/choose.py): no
    solver name is written in their code, so a new plug-in needs no benchmark edit."""
    from cdibench.solvers.registry import SOLVERS

    for module in MODULES:
        named = _string_constants(ast.parse(Path(module.__file__).read_text())) & set(SOLVERS)
        assert not named, f"{module.__name__} names solvers {sorted(named)}"


def test_no_module_imports_tensorflow_at_import_time():
    """Discovery must work without TensorFlow: run it in a fresh interpreter and look."""
    code = ("import sys; sys.path.insert(0, %r); import pkgutil, importlib, benchmarks\n"
            "for m in pkgutil.iter_modules(benchmarks.__path__):\n"
            "    importlib.import_module('benchmarks.' + m.name)\n"
            "assert 'tensorflow' not in sys.modules") % str(ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("cls, method, combo", CASES)
def test_benchmark_runs(cls, method, combo):
    args = combo
    if hasattr(cls, "setup_cache"):
        args = (_setup_cache(cls),) + combo
    bench = cls()
    try:
        if hasattr(bench, "setup"):
            bench.setup(*args)
    except NotImplementedError as exc:  # asv's skip
        pytest.skip(str(exc))
    result = getattr(bench, method)(*args)
    if hasattr(bench, "teardown"):
        bench.teardown(*args)
    if method.startswith("track_"):
        assert isinstance(result, numbers.Real)


def test_asv_check():
    pytest.importorskip("asv")
    out = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
