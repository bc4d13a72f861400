"""One iteration of a solver and one pass of a forward model, as callables built (and warmed up,
untimed) once per process, so that a ``time_`` benchmark times only the iteration.

A solver's iteration is its plug-in's own (cdibench.solvers.base.Solver): ``setup`` once
(untimed: data preparation, model build, tracing), then ``step`` per call; the numpy baselines
and the AD solvers are timed by this one code path, as ``reconstruct`` times them.

asv re-runs ``setup`` before every sample; the benchmarks fetch these objects from :func:`cached`,
so tracing a ``tf.function`` (seconds) happens once per process, in the first ``setup``.

TensorFlow and ``cdibench.ad`` are imported inside the functions only (see common.py).
"""

from __future__ import annotations

import numpy as np

from cdibench import units
from cdibench.solvers.registry import get_solver, solver_config

from . import choose
from .common import require_tensorflow

_CACHE: dict = {}


def cached(key, build):
    """``build()`` once per process and ``key`` (keep one entry: a new key drops the old objects,
    so one process never holds two big models)."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


# ----------------------------------------------------------------------------------------------
# solver iterations, from the plug-in declaration


class Iteration:
    """One iteration of solver ``name`` on ``ds``: the plug-in's ``setup`` (untimed) in
    ``__init__``, then every call runs ``step(state)`` once on the same, evolving state and returns
    its loss. The first call (first-call allocations, FFT plans, tracing) runs in ``__init__``."""

    def __init__(self, ds, name: str, config):
        self.solver = get_solver(name)
        if self.solver.step is None:
            raise ValueError(f"solver {name!r} declares no step: it has no per-iteration benchmark")
        self.state = self.solver.setup(ds, config, None)
        self()  # warm-up

    def __call__(self) -> float:
        return self.solver.step(self.state)


def solver_iteration(ds, name: str, config) -> Iteration:
    """A callable running one iteration (epoch, sweep, cycle) of solver ``name`` on ``ds``, warmed up."""
    return Iteration(ds, name, config)


# ----------------------------------------------------------------------------------------------
# AD forward models (their cost, not a solver's): the model the kind's AD solver fits


def ad_config(kind_name: str, **options):
    """The config of the lead AD solver of ``kind_name`` (cdibench.solvers.registry defaults),
    updated by ``options``."""
    return solver_config(choose.leads(kind_name, ad=True)[0], options)


def ad_model(ds, config):
    """The TensorFlow model the kind's AD solvers fit to ``ds`` with ``config``
    (cdibench.ad.solvers.fit_model: the plug-ins' own choice)."""
    require_tensorflow()
    from cdibench.ad.solvers import fit_model

    return fit_model(ds, config)


def _data_tensors(tf, ds, dtype=np.float32):
    data = tf.constant(ds.intensities.astype(dtype))
    weights = tf.constant((ds.mask == 0).astype(dtype))
    return data, weights, weights.shape.rank == 4


class ForwardBackward:
    """Loss and gradient of the model's data term over all positions of every angle, one
    ``tf.function`` call per angle (no optimiser step): the cost of one full forward and backward
    pass. ``gradient=False``: the forward pass and loss only. Traced once in ``__init__``."""

    def __init__(self, model, ds, loss: str = "amplitude", gradient: bool = True):
        tf = require_tensorflow()
        from cdibench.ad import losses

        data, weights, per_frame = _data_tensors(tf, ds)
        train = [model.variables[k] for k in model.trainable]
        loss_fn = losses.LOSSES[loss]

        def step(angle, positions):
            with tf.GradientTape(watch_accessed_variables=gradient) as tape:
                predicted = model.forward(model.variables, angle, positions)
                w = tf.gather(tf.gather(weights, angle), positions) if per_frame else weights
                value = loss_fn(predicted, tf.gather(tf.gather(data, angle), positions), w)
            if not gradient:
                return value
            grads = tape.gradient(value, train)
            return tf.stack([value, tf.add_n([tf.reduce_sum(g) for g in grads])])  # needs every gradient

        self.step = tf.function(step, reduce_retracing=True)
        positions = tf.range(ds.n_positions)
        self.calls = [(tf.constant(a), positions) for a in range(ds.n_angles)]
        self()  # warm-up: tracing

    def __call__(self) -> float:
        return sum(float(np.sum(self.step(a, p).numpy())) for a, p in self.calls)


# ----------------------------------------------------------------------------------------------
# numpy: forward model at equal discretisation


def numpy_thin_forward(ds):
    """The numpy physics of a thin-object dataset at the reconstruction grid (no finer grid, no
    noise): exit waves of the true object and probe modes at every position, then detection.
    Returns a callable giving float32 (n_positions, n_y, n_x)."""
    from cdibench.physics.forward import farfield_intensity, nearfield_intensity
    from cdibench.physics.propagators import angular_spectrum_kernel
    from cdibench.physics.ptychography import exit_waves

    obj, probe, positions = ds.truth.object, ds.truth.probe, ds.positions_px[0]
    geo = ds.geometry
    if geo.detection == "far":
        return lambda: farfield_intensity(exit_waves(obj, probe, positions))
    kernel = None if geo.distance_m == 0 else angular_spectrum_kernel(
        probe.shape[-2:], geo.object_pixel_m, float(units.wavelength_m(geo.energy_kev)), geo.distance_m)
    return lambda: nearfield_intensity(exit_waves(obj, probe, positions), kernel)
