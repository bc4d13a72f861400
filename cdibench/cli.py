"""Command line: ``cdibench simulate | run | report | figures | reconstruct | score | solvers | inspect | info``.

Errors a user can fix (bad spec, bad file, a suite too large for memory) print one line and exit
2; any other error prints one line too and exits 1 (CDIBENCH_DEBUG=1 shows its traceback).
``run`` exits 1 when a run of the suite failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from cdibench.provenance import package_version, provenance


def _cmd_simulate(args) -> int:
    from cdibench.data.catalog import find_spec
    from cdibench.data.cxi import save_cxi
    from cdibench.data.spec import load_spec
    from cdibench.simulation import simulate

    spec = load_spec(find_spec(args.spec))
    if args.seed is not None:
        spec = spec.with_seed(args.seed)
    start, timings = time.perf_counter(), {}
    dataset = simulate(spec, timings=timings)
    save_cxi(dataset, args.output)
    print(f"{spec.name}: {dataset.intensities.shape} frames in {time.perf_counter() - start:.2f} s "
          f"-> {args.output}")
    if args.floor:
        from cdibench.harness.floor import plan_seconds, simulator_fft_plan

        floor = plan_seconds(simulator_fft_plan(spec, dataset))
        ratio = f" = {timings['forward_s'] / floor:.2f} x its FFT floor ({floor:.3g} s)" if floor else ""
        print(f"forward model {timings['forward_s']:.3g} s{ratio}")
    return 0


def _cmd_run(args) -> int:
    from cdibench.harness.executors import make_executor, parse_resources
    from cdibench.harness.runner import read_records, run_suite
    from cdibench.harness.suite import load_suite
    from cdibench.report import report_text

    suite = load_suite(args.suite)
    out = Path(args.output or f"results/{suite.name}")
    executor = make_executor(args.executor, workers=args.workers, scheduler=args.scheduler,
                             retries=args.retries, resources=parse_resources(args.resources))
    start = time.perf_counter()
    records = run_suite(suite, out, device=args.device, executor=executor)
    text, _ = report_text(out)
    print(text)
    keys = {t.key for t in suite.tasks()}
    failed = [r for r in read_records(out, keys) if r.get("status") == "failed"]
    print(f"\nsuite {suite.name}: {len(records)} runs in {time.perf_counter() - start:.1f} s on "
          f"{executor.describe()} ({len(keys) - len(records)} already done); results in {out}")
    if not args.no_figures:
        from cdibench.figures import make_figures
        files = make_figures(out)
        print(f"figures: {len(files)} files in {out / 'figures'}")
    for r in failed:
        error = " ".join(str(r.get("error")).split())
        print(f"FAILED {r.get('case')} / {r.get('label')}: {error}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_report(args) -> int:
    from cdibench.report import report_text
    from cdibench.report.asv import is_asv_results
    from cdibench.report.scaling import asv_report_text

    if is_asv_results(args.results):
        if args.against or args.html:
            raise ValueError(f"--against and --html are for run results; {args.results} holds asv results "
                             "(compare commits with `asv compare`)")
        print(asv_report_text(args.results))
        return 0
    text, code = report_text(Path(args.results), against=Path(args.against) if args.against else None,
                             html_path=Path(args.html) if args.html else None, threshold=args.threshold)
    print(text)
    return code


def _cmd_figures(args) -> int:
    from cdibench.figures import make_figures

    files = make_figures(Path(args.results))
    print("\n".join(str(f) for f in files) or "no figures (no finished runs?)")
    return 0


def _parse_options(pairs: list[str]) -> dict:
    """KEY=VALUE solver options; values parsed as TOML scalars (numbers, true/false, "strings")."""
    from cdibench.data.spec import tomllib

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {pair!r} is invalid: expected KEY=VALUE")
        try:
            options[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            options[key] = value
    return options


def _cmd_reconstruct(args) -> int:
    from cdibench.data.cxi import load_cxi
    from cdibench.data.reconstruction import save_reconstruction
    from cdibench.harness.reconstruct import reconstruct
    from cdibench.metrics.evaluate import score
    from cdibench.solvers.registry import solver_config

    options = _parse_options(args.option or [])
    if args.iterations is not None:
        options["iterations"] = args.iterations
    config = solver_config(args.solver, options)
    dataset = load_cxi(args.file)
    rec = reconstruct(dataset, args.solver, config, device=args.device)
    save_reconstruction(rec, args.output, dataset_path=str(Path(args.file).resolve()))
    print(f"{args.solver}: {rec.status} after {rec.iterations} iterations, {rec.wall_s:.2f} s "
          f"({rec.wall_s / max(rec.iterations, 1) * 1e3:.1f} ms/iteration) -> {args.output}")
    if rec.message:
        print(rec.message)
    for key, value in score(dataset, rec).items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    return 0 if rec.status == "ok" else 1


def _cmd_score(args) -> int:
    from cdibench.data.cxi import load_cxi
    from cdibench.data.reconstruction import load_reconstruction
    from cdibench.metrics.evaluate import score

    rec, dataset_path = load_reconstruction(args.file)
    dataset_path = args.dataset or dataset_path
    if not dataset_path:
        raise ValueError(f"{args.file}: no dataset recorded; pass --dataset FILE.cxi")
    scores = score(load_cxi(dataset_path), rec)
    if not scores:
        raise ValueError(f"{dataset_path}: no ground truth to score against")
    print(f"{rec.solver} ({rec.status}, {rec.iterations} iterations, {rec.wall_s:.2f} s) on {dataset_path}")
    for key, value in scores.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


def _cmd_inspect(args) -> int:
    from cdibench.data.cxi import load_cxi
    from cdibench.data.inspection import inspect_png, summarize

    dataset = load_cxi(args.file)
    print(summarize(dataset))
    if args.png:
        inspect_png(dataset, args.png)
        print(f"picture -> {args.png}")
    return 0


def _toml_value(value) -> str:
    """An option value as ``--option KEY=VALUE`` takes it (a TOML scalar; None: not set)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    return "unset" if value is None else repr(value)


def _solver_text(name: str) -> str:
    """Kinds, options (type, effective default, meaning) and tunable ranges of solver ``name``."""
    import dataclasses
    import typing

    from cdibench.config import meaning
    from cdibench.solvers.registry import get_solver, solver_config

    solver = get_solver(name)
    config, hints = solver_config(name), typing.get_type_hints(solver.config)
    lines = [f"{name}: {solver.description}", f"kinds: {', '.join(solver.kinds)}"]
    if solver.requires:
        lines.append(f"requires: {solver.requires[0]} (pip install 'cdibench[{solver.requires[1]}]')")
    lines.append("options (--option KEY=VALUE): type, default, meaning")
    for field in dataclasses.fields(solver.config):
        kind = hints[field.name]
        type_name = kind.__name__ if isinstance(kind, type) else str(kind)
        lines.append(f"  {field.name:22s} {type_name:13s} {_toml_value(getattr(config, field.name)):14s} "
                     f"{meaning(field)}")
    lines.append("tunable ranges:" if solver.tunable else "tunable ranges: none")
    for option, r in solver.tunable.items():
        scale = ", ".join(word for word, on in (("log", r.log), ("integer", r.integer)) if on)
        lines.append(f"  {option:22s} [{r.low:g}, {r.high:g}]" + (f" {scale}" if scale else ""))
    return "\n".join(lines)


def _cmd_solvers(args) -> int:
    from cdibench.solvers.registry import SOLVERS

    if args.name:
        print(_solver_text(args.name))
        return 0
    width = max(map(len, SOLVERS))
    for name, solver in SOLVERS.items():
        print(f"{name:{width}s}  {', '.join(solver.kinds):16s} {solver.description}")
    return 0


def _cmd_info(args) -> int:
    info = provenance()
    try:
        from cdibench.ad.devices import list_devices, tensorflow_build
        info.update(tensorflow_build())
        info["tensorflow_devices"] = list_devices()
    except ImportError as exc:
        info["tensorflow_devices"] = f"TensorFlow not importable: {exc}"
    print(json.dumps(info, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdibench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cdibench {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("simulate", help="simulate one dataset spec into a CXI file")
    p.add_argument("spec", help="dataset spec: a TOML file or a shipped spec's name (quick-cdi, ...)")
    p.add_argument("-o", "--output", required=True, help="output .cxi file")
    p.add_argument("--seed", type=int, help="override the spec's seed")
    p.add_argument("--floor", action="store_true",
                   help="also time the forward model against its FFT floor (cdibench.harness.floor)")
    p.set_defaults(func=_cmd_simulate)
    p = sub.add_parser("run", help="run a benchmark suite (datasets/suite-NAME.toml), resumable")
    p.add_argument("suite", help="suite name (quick, paper, micro) or TOML file")
    p.add_argument("-o", "--output", help="results folder (default results/SUITE)")
    p.add_argument("--device", help="TensorFlow device for AD solvers, e.g. /GPU:0")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--executor", choices=("local", "isolated", "dask"),
                   help="local: this process (default); isolated: a fresh process per run (its peak memory "
                        "alone); dask: one Dask task per run (needs the dask extra)")
    p.add_argument("--workers", type=int, help="dask: worker processes of the embedded LocalCluster "
                   "(default: CPU cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="dask: use this existing cluster "
                   "(e.g. dask-jobqueue on SLURM) instead of a LocalCluster")
    p.add_argument("--retries", type=int, default=2, help="dask: extra attempts of a run that raised")
    p.add_argument("--resources", action="append", metavar="NAME=AMOUNT",
                   help="dask: worker resources each run needs, e.g. GPU=1 (repeatable)")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("report", help="tables of a results folder (or asv's: the scaling slopes); "
                       "--against compares two")
    p.add_argument("results")
    p.add_argument("--against", help="older results folder: ratios and regressions (exit 1 on regression)")
    p.add_argument("--html", help="also write an HTML report here")
    p.add_argument("--threshold", type=float, default=0.10, help="relative change counted as a regression")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("figures", help="paper figures of a results folder")
    p.add_argument("results")
    p.set_defaults(func=_cmd_figures)
    p = sub.add_parser("reconstruct", help="run a solver on a CXI dataset")
    p.add_argument("file", help="dataset (.cxi)")
    p.add_argument("--solver", required=True, help="solver name (see `cdibench solvers`)")
    p.add_argument("--iterations", type=int, help="iterations (sweeps, epochs)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="solver option (repeatable)")
    p.add_argument("--device", help="TensorFlow device for AD solvers, e.g. /GPU:0 or /CPU:0")
    p.add_argument("-o", "--output", required=True, help="output reconstruction (.h5)")
    p.set_defaults(func=_cmd_reconstruct)
    p = sub.add_parser("score", help="score a reconstruction against its dataset's ground truth")
    p.add_argument("file", help="reconstruction (.h5)")
    p.add_argument("--dataset", help="dataset (.cxi), if not the one recorded in the file")
    p.set_defaults(func=_cmd_score)
    p = sub.add_parser("solvers", help="list the solvers and the kinds they handle; with NAME, that "
                       "solver's options, defaults and tunable ranges")
    p.add_argument("name", nargs="?", help="a solver's name")
    p.set_defaults(func=_cmd_solvers)
    p = sub.add_parser("inspect", help="summarise a CXI dataset")
    p.add_argument("file")
    p.add_argument("--png", help="write a picture of ground truth, probe and patterns")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("info", help="versions, CPU and TensorFlow devices")
    p.set_defaults(func=_cmd_info)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run a command; errors become one line on stderr and a non-zero exit status: 2 for input a
    user can fix (ValueError, TypeError, OSError, a missing optional package), 1 for anything else
    (CDIBENCH_DEBUG=1 shows its traceback), 130 on Ctrl-C."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"cdibench {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"cdibench {args.command}: error: out of memory ({_one_line(exc)}); expected a smaller "
              "case or batch", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cdibench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or a library failure: still one line, unless debugging
        if os.environ.get("CDIBENCH_DEBUG"):
            raise
        print(f"cdibench {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(set CDIBENCH_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
