"""Direct scaling measurement (no asv): time per iteration of each axis's solvers along each axis
of common.SCALING, then the log-log slope table of cdibench.report.scaling.

    python -m benchmarks.scaling [--quick] [--repeats N] [--axis n_positions ...] [-o timings.csv]

Built for a shared, noisy machine: every point of an axis is built and warmed up first, then the
repeats are interleaved (each repeat visits the points in a fresh random order) and the minimum
per point is kept, so that a burst of load from elsewhere hits all points alike and only inflates
timings (they are upper bounds). A sample runs the iteration enough times to last >= 0.2 s.
``--quick``: only the points within the default work budget (as ``asv run`` without
CDIBENCH_BENCH_SLOW), 3 repeats.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
import pandas as pd

from cdibench.report.scaling import scaling_markdown, scaling_table

from . import choose, common
from .bench_scaling import scaling_iteration

MIN_SAMPLE_S = 0.2


def _calls_per_sample(iteration) -> int:
    start = time.perf_counter()
    iteration()
    return max(1, math.ceil(MIN_SAMPLE_S / max(time.perf_counter() - start, 1e-6)))


def _sample_s(iteration, calls: int) -> float:
    """Seconds per call, averaged over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        iteration()
    return (time.perf_counter() - start) / calls


def axis_values(parameter: str, quick: bool) -> list[int]:
    """The values of one axis to time: all, or (quick) those within the default work budget."""
    values = []
    for value in common.SCALING[parameter].values:
        try:
            if quick:
                common.skip_slow_scaling(common.scaling_spec(parameter, value))
        except NotImplementedError:
            continue
        values.append(value)
    return values


def measure_axis(parameter: str, solver: str, values: list[int], repeats: int, seed: int = 0) -> pd.DataFrame:
    """Best-of-``repeats`` seconds per iteration of ``solver`` at each value, interleaved.
    Returns the timing frame of cdibench.report.scaling (benchmark, parameter, fixed, x, seconds);
    the benchmark is named "<solver> epoch" for AD solvers, "<solver> sweep" for classical ones
    (their step is one sweep over the scan)."""
    iterations = {v: scaling_iteration(parameter, solver, v) for v in values}
    calls = {v: _calls_per_sample(it) for v, it in iterations.items()}
    best = dict.fromkeys(values, math.inf)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        for v in rng.permutation(values):
            best[v] = min(best[v], _sample_s(iterations[v], calls[v]))
    unit = "epoch" if choose.is_ad(solver) else "sweep"
    return pd.DataFrame({"benchmark": f"{solver} {unit}", "parameter": parameter, "fixed": "",
                         "x": [float(v) for v in values], "seconds": [best[v] for v in values]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="default-budget points only, 3 repeats")
    parser.add_argument("--repeats", type=int, help="timed samples per point (default 5; 3 with --quick)")
    parser.add_argument("--axis", action="append", choices=list(common.SCALING), help="repeatable; default all")
    parser.add_argument("-o", "--output", help="write the timings here (CSV)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    load_before = os.getloadavg()
    frames = []
    for parameter in args.axis or list(common.SCALING):
        values = axis_values(parameter, args.quick)
        for solver in common.SCALING[parameter].solvers:
            print(f"timing {solver} over {parameter} = {values} ...", file=sys.stderr, flush=True)
            frames.append(measure_axis(parameter, solver, values, repeats))
    timings = pd.concat(frames, ignore_index=True)
    if args.output:
        timings.to_csv(args.output, index=False)
    print(timings.to_string(index=False))
    # other processes' load inflates timings (upper bounds); on 2 cores a load above ~1 shows
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {os.getloadavg()}; {os.cpu_count()} CPUs\n")
    print(scaling_markdown(scaling_table(timings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
