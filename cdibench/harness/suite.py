"""Suites: dataset specs x solver runs x seeds, from TOML (shipped: datasets/suite-NAME.toml).

    name = "quick"
    seeds = [0]
    targets = ["nrmse<=0.05", "ssim_in>=0.8"]     # time-to-target thresholds
    max_wall_s = 60                                # optional time budget per run
    [[case]]
    dataset = "quick-ptycho-far"                   # a spec beside this file, or shipped, or a path
    overrides = { "noise.photons_per_frame" = 1e5 }    # optional dotted spec keys
    sweep = { "probe.n_modes" = [1, 2, 3] }           # optional: one case per value
    runs = [{ solver = "epie", options = { iterations = 50 } },
            { solver = "ad-ptycho", label = "AD", options = { iterations = 50 } },
            { solver = "cdtools-fancyptycho", optional = true }]  # skipped without its extra

Unknown keys are errors, as everywhere.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from cdibench.config import require
from cdibench.data.catalog import find_spec, find_suite
from cdibench.data.spec import DatasetSpec, load_spec, spec_from_mapping, tomllib
from cdibench.solvers.registry import solver_config

_OPS = {"<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t}


@dataclass(frozen=True)
class Run:
    solver: str
    label: str
    options: dict = field(default_factory=dict)
    #: skip (status 'skipped', redone once installed) when the solver's optional extra is missing
    optional: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    spec: DatasetSpec
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Task:
    """One (case, run, seed): the unit of work, written as one record keyed by ``key``."""

    suite: str
    case: Case
    run: Run
    seed: int

    @property
    def spec(self) -> DatasetSpec:
        return self.case.spec.with_seed(self.case.spec.seed + self.seed)

    @property
    def key(self) -> str:
        blob = json.dumps([self.case.name, self.spec.hash(), self.run.solver, self.run.label, self.run.options,
                           self.seed], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Suite:
    name: str
    cases: tuple[Case, ...]
    seeds: tuple[int, ...] = (0,)
    targets: tuple[str, ...] = ()
    max_wall_s: float | None = None
    description: str = ""

    def tasks(self) -> list[Task]:
        return [Task(self.name, case, run, seed) for case in self.cases for run in case.runs for seed in self.seeds]


def parse_target(target: str) -> tuple[str, str, float]:
    """'nrmse<=0.05' -> ('nrmse', '<=', 0.05)."""
    for op in _OPS:
        if op in target:
            metric, value = target.split(op, 1)
            try:
                return metric.strip(), op, float(value)
            except ValueError:
                break
    raise ValueError(f"target {target!r} is invalid: expected METRIC<=VALUE or METRIC>=VALUE")


def reached(target: str, value: float) -> bool:
    _, op, threshold = parse_target(target)
    return _OPS[op](value, threshold)


def _set_dotted(mapping: dict, dotted: str, value, where: str) -> None:
    node = mapping
    *parents, leaf = dotted.split(".")
    for key in parents:
        require(isinstance(node.get(key, {}), dict), f"{where}.{dotted}", value, "a key inside a spec table")
        node = node.setdefault(key, {})
    node[leaf] = value


def _spec_with(base: DatasetSpec, overrides: dict, where: str) -> DatasetSpec:
    mapping = copy.deepcopy(base.to_mapping())
    for dotted, value in overrides.items():
        _set_dotted(mapping, dotted, value, where)
    return spec_from_mapping(mapping)


def _runs(entries, where: str) -> tuple[Run, ...]:
    require(isinstance(entries, list) and entries, f"{where}.runs", entries, "a non-empty list of runs")
    runs = []
    for i, entry in enumerate(entries):
        unknown = set(entry) - {"solver", "label", "options", "optional"}
        require(not unknown, f"{where}.runs[{i}]", sorted(unknown), "keys solver, label, options, optional")
        options = dict(entry.get("options", {}))
        solver_config(entry.get("solver", ""), options)  # unknown solver or option: fail at load
        optional = entry.get("optional", False)
        require(isinstance(optional, bool), f"{where}.runs[{i}].optional", optional, "true or false")
        runs.append(Run(entry["solver"], entry.get("label", entry["solver"]), options, optional))
    labels = [r.label for r in runs]
    require(len(set(labels)) == len(labels), f"{where}.runs", labels, "distinct labels")
    return tuple(runs)


def _cases(entry: dict, index: int, folder: Path) -> list[Case]:
    where = f"case[{index}]"
    unknown = set(entry) - {"dataset", "name", "overrides", "sweep", "runs"}
    require(not unknown, where, sorted(unknown), "keys dataset, name, overrides, sweep, runs")
    require(isinstance(entry.get("dataset"), str), f"{where}.dataset", entry.get("dataset"),
            "a dataset spec name or path")
    try:
        spec_file = find_spec(entry["dataset"], folder)
    except ValueError as exc:
        raise ValueError(f"{where}.dataset: {exc}") from None
    base = _spec_with(load_spec(spec_file), entry.get("overrides", {}), where)
    runs = _runs(entry.get("runs"), where)
    name = entry.get("name", entry["dataset"])
    sweep = entry.get("sweep", {})
    if not sweep:
        return [Case(name, base, runs)]
    keys = list(sweep)
    out = []
    for values in itertools.product(*(sweep[k] for k in keys)):
        spec = _spec_with(base, dict(zip(keys, values)), where)
        label = ",".join(f"{k.rsplit('.', 1)[-1]}={v:.3g}" for k, v in zip(keys, values))
        out.append(Case(f"{name}[{label}]", spec, runs))
    return out


def load_suite(name_or_path: str) -> Suite:
    """A suite by path or by a shipped one's name (micro, quick, ...); errors name the key."""
    path = find_suite(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"name", "description", "seeds", "targets", "max_wall_s", "case"}
    require(not unknown, f"{path.name}", sorted(unknown), "keys name, description, seeds, targets, max_wall_s, case")
    cases = [c for i, entry in enumerate(data.get("case", [])) for c in _cases(entry, i, path.parent)]
    require(bool(cases), f"{path.name}: case", [], "at least one [[case]] (an empty suite runs nothing)")
    for target in data.get("targets", []):
        parse_target(target)
    seeds = tuple(data.get("seeds", [0]))
    require(all(isinstance(s, int) and s >= 0 for s in seeds) and seeds, "seeds", list(seeds), "integers >= 0")
    names = [c.name for c in cases]
    require(len(set(names)) == len(names), "case names", names, "distinct (set name = ... on repeats)")
    return Suite(data.get("name", path.stem), tuple(cases), seeds, tuple(data.get("targets", [])),
                 data.get("max_wall_s"), data.get("description", ""))
