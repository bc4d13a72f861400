"""Scaling: time per iteration (one sweep of the classical solver, one epoch of the AD solver)
along one size parameter at a time, so that ``cdibench report .asv/results`` fits the log-log
slope (cdibench.report.scaling).

Axes (common.SCALING, solvers from the registry: the lead classical and AD solvers of the axis's
kind): scan positions 36..576 (64 px) and pattern size 64..256 px (36 positions) on
quick-ptycho-far (ePIE and ad-ptycho today); slices 1..64 for the AD multislice solver (a foam
n_slices voxels of 1 nm thick: the sample gets thicker, one multislice step per voxel); angles
4..64 for the AD multislice-tomo solver on quick-multislice-tomo. Points over the work budget of
common.py are skipped unless CDIBENCH_BENCH_SLOW=1. The forward models over the same axes are in
bench_forward.py.
"""

from __future__ import annotations

from cdibench.solvers.registry import solver_config

from . import choose, common, steps


def scaling_iteration(parameter: str, solver: str, value: int):
    """One iteration of ``solver`` at one point of a scaling axis, built and warmed up (untimed)."""
    return steps.solver_iteration(common.dataset(common.scaling_spec(parameter, value)), solver,
                                  solver_config(solver))


class _Scaling:
    """One iteration timed at each value of the class's ``PARAMETER`` (common.SCALING)."""

    PARAMETER = ""
    timeout = 600

    def setup(self, solver, value):
        common.skip_slow_scaling(common.scaling_spec(self.PARAMETER, value))
        choose.require_backend(solver)
        self.iteration = steps.cached(("scaling", self.PARAMETER, solver, value),
                                      lambda: scaling_iteration(self.PARAMETER, solver, value))

    def time_iteration(self, solver, value):
        self.iteration()


def _axis_class(name: str, parameter: str, doc: str) -> type:
    """A _Scaling subclass timing ``common.SCALING[parameter]``'s solvers at each of its values."""
    axis = common.SCALING[parameter]
    return type(name, (_Scaling,), {"__doc__": doc, "PARAMETER": parameter,
                                    "params": (list(axis.solvers), list(axis.values)),
                                    "param_names": ("solver", parameter)})


PositionsScaling = _axis_class("PositionsScaling", "n_positions",
                               "One classical sweep / AD epoch vs the number of scan positions (64 px patterns).")
PatternScaling = _axis_class("PatternScaling", "pattern_px",
                             "One classical sweep / AD epoch vs the pattern size in pixels (36 positions).")
SlicesScaling = _axis_class("SlicesScaling", "n_slices",
                            "One AD multislice epoch vs the number of slices (sample thickness in 1 nm voxels).")
AnglesScaling = _axis_class("AnglesScaling", "n_angles",
                            "One AD multislice-tomo epoch (every angle, all positions) vs the number of angles.")
