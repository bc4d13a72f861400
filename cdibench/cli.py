"""Command line: ``cdibench simulate | simulate-suite | inspect | info``.

Errors a user can fix (bad spec, bad file) print one line and exit 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cdibench.provenance import provenance


def _cmd_simulate(args) -> int:
    from cdibench.io import save_cxi
    from cdibench.simulate import simulate
    from cdibench.spec import load_spec

    spec = load_spec(args.spec)
    if args.seed is not None:
        spec = spec.with_seed(args.seed)
    start = time.perf_counter()
    dataset = simulate(spec)
    save_cxi(dataset, args.output)
    print(f"{spec.name}: {dataset.intensities.shape} frames in {time.perf_counter() - start:.2f} s "
          f"-> {args.output}")
    return 0


def _cmd_simulate_suite(args) -> int:
    from cdibench.suite import simulate_suite

    table = simulate_suite(Path(args.specs), Path(args.out), pattern=args.pattern)
    print(table.to_string(index=False))
    print(f"\ntotal simulation time: {table['simulate_s'].sum():.1f} s for {len(table)} datasets")
    return 0


def _cmd_inspect(args) -> int:
    from cdibench.inspect import inspect_png, summarize
    from cdibench.io import load_cxi

    dataset = load_cxi(args.file)
    print(summarize(dataset))
    if args.png:
        inspect_png(dataset, args.png)
        print(f"picture -> {args.png}")
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
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("simulate", help="simulate one dataset spec into a CXI file")
    p.add_argument("spec", help="dataset spec (TOML)")
    p.add_argument("-o", "--output", required=True, help="output .cxi file")
    p.add_argument("--seed", type=int, help="override the spec's seed")
    p.set_defaults(func=_cmd_simulate)
    p = sub.add_parser("simulate-suite", help="simulate every spec of a folder and print a summary")
    p.add_argument("specs", help="folder of TOML specs (or one spec)")
    p.add_argument("--out", default="results/datasets", help="folder for the CXI files")
    p.add_argument("--pattern", default="quick-*.toml", help="glob of spec files in the folder")
    p.set_defaults(func=_cmd_simulate_suite)
    p = sub.add_parser("inspect", help="summarise a CXI dataset")
    p.add_argument("file")
    p.add_argument("--png", help="write a picture of ground truth, probe and patterns")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("info", help="versions, CPU and TensorFlow devices")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"cdibench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cdibench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
