"""The import graph of ``cdibench`` and ``baselines``, read from the source (ast): no cycle, no
cdibench in baselines, TensorFlow at module level only in cdibench.ad, no module named after the
standard library.

Every ``import x`` and ``from x import y`` counts, at module level and inside functions (a lazy
import still ties the two modules together); ``from pkg import name`` is an edge to the submodule
``pkg.name`` when there is one, else to ``pkg``. Importing a submodule runs its parents'
``__init__`` too, but that is no edge here: a package importing its own submodules is no cycle.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cdibench", "baselines")


@dataclass(frozen=True)
class Import:
    """One imported name, resolved to an absolute dotted name; top_level: not inside a function."""

    target: str
    top_level: bool
    line: int


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of PACKAGES (packages by __init__.py)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            folders = [ROOT.joinpath(*parts[:k]) for k in range(1, len(parts))]
            if all((folder / "__init__.py").is_file() for folder in folders):
                out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import in the module's source, targets absolute (relative imports resolved)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []

    def visit(node, top_level):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, top_level, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.append(Import(sub if sub in modules else source, top_level, node.lineno))
        inside = top_level and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(path.read_text(), str(path)), True)
    return found


def _internal(target: str, modules: dict[str, Path]) -> str | None:
    """The module of PACKAGES that ``target`` names (its longest prefix that is one), or None."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in modules:
            return ".".join(parts[:k])
    return None


def import_graph() -> tuple[dict[str, set[str]], dict[str, list[Import]]]:
    """Edges module -> modules of PACKAGES it imports, and every module's imports."""
    modules = _modules()
    imports = {name: _imports(name, path, modules) for name, path in modules.items()}
    graph = {name: {m for i in found if (m := _internal(i.target, modules)) is not None}
             for name, found in imports.items()}
    return graph, imports


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle [a, b, ..., a] per strongly connected component that has one (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while node not in component:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(c, graph) for c in components if len(c) > 1 or c <= graph.get(min(c), set())]


def _cycle_in(component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first node (breadth first, inside the component)."""
    start = min(component)
    paths, seen = [[start]], set()
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & component):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append(path + [nxt])
    raise AssertionError(f"no cycle in component {sorted(component)}")


def test_the_graph_is_read_from_the_source():
    graph, _ = import_graph()
    assert {"cdibench.cli", "cdibench.simulation", "cdibench.simulation.transmission", "baselines.epie"} <= set(graph)
    assert "cdibench.simulation.transmission" in graph["cdibench.simulation"]  # from-import of a module
    assert "cdibench.simulation.transmission" in graph["cdibench.harness.floor"]  # inside a function


def test_cycle_finder_reports_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"e"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    graph, _ = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_baselines_import_nothing_of_cdibench():
    _, imports = import_graph()
    bad = [f"{name}:{i.line} imports {i.target}" for name, found in imports.items() if name.split(".")[0] == "baselines"
           for i in found if i.target.split(".")[0] == "cdibench"]
    assert not bad, "\n".join(bad)


def test_tensorflow_at_module_level_only_in_cdibench_ad():
    _, imports = import_graph()
    bad = [f"{name}:{i.line} imports {i.target}" for name, found in imports.items()
           if not (name == "cdibench.ad" or name.startswith("cdibench.ad."))
           for i in found if i.top_level and i.target.split(".")[0] == "tensorflow"]
    assert not bad, "\n".join(bad)


def test_no_module_named_after_the_standard_library():
    graph, _ = import_graph()
    bad = sorted(name for name in graph if name.split(".")[0] == "cdibench"
                 and any(part in sys.stdlib_module_names for part in name.split(".")[1:]))
    assert not bad, f"modules shadowing the standard library: {bad}"
