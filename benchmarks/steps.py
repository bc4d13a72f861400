"""One iteration of each solver family and one pass of each forward model, as callables built (and
warmed up, untimed) once per process, so that a ``time_`` benchmark times only the iteration.

asv re-runs ``setup`` before every sample; the benchmarks fetch these objects from :func:`cached`,
so tracing a ``tf.function`` (seconds) happens once per process, in the first ``setup``.

TensorFlow and ``cdibench.ad`` are imported inside the functions only (see common.py).
"""

from __future__ import annotations

import functools

import numpy as np

from cdibench import units
from cdibench.data.spec import sample_depth_px

from .common import require_tensorflow

THIN_AD = ("ad-cdi", "ad-ptycho", "ad-nearfield")
VOLUME_AD = ("ad-multislice", "ad-tomo", "ad-fullfield")

_CACHE: dict = {}


def cached(key, build):
    """``build()`` once per process and ``key`` (keep one entry: a new key drops the old objects,
    so one process never holds two big models)."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


# ----------------------------------------------------------------------------------------------
# AD models and steps (mirror cdibench.ad.solvers and cdibench.ad.fit)


def ad_model(ds, name: str, config, n_slices: int | None = None, probe=None):
    """The model solver ``name`` builds for ``ds`` (as cdibench.ad.solvers.solve_thin/solve_volume);
    ``probe``: start probe (default the dataset's guess); ``n_slices``: volume depth override."""
    require_tensorflow()
    from cdibench.ad.models import thin_model, volume_model

    probe = ds.probe_guess if probe is None else probe
    if name in THIN_AD:
        refine = config.refine_probe and ds.kind != "cdi"
        return thin_model(ds, probe, refine_probe=refine, support=ds.support)
    depth = sample_depth_px(ds, n_slices or getattr(config, "n_slices", 0))
    refine = config.refine_probe and ds.kind != "fullfield-tomo"
    return volume_model(ds, probe, (depth,) + tuple(ds.object_shape), refine_probe=refine,
                        projection=getattr(config, "projection_approximation", False))


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


class AdEpoch:
    """One epoch of cdibench.ad.fit.fit, run by its own :class:`~cdibench.ad.fit.Trainer` (same loss,
    optimiser, minibatches, compiled epoch and projection). The first epoch (tracing, XLA) runs in
    ``__init__``; every call then runs the same minibatches (one fixed order: the cost is the same)."""

    def __init__(self, model, ds, config):
        require_tensorflow()
        from cdibench.ad.fit import Trainer

        self.trainer = Trainer(model, ds.intensities, ds.mask, config)
        self.batches = self.trainer.batches(np.random.default_rng(config.seed))
        self()  # warm-up: tracing and compilation

    def __call__(self) -> float:
        return self.trainer.epoch(self.batches)


# ----------------------------------------------------------------------------------------------
# numpy: forward model at equal discretisation, baseline iterations


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


def _mask2(ds):
    return ds.mask if ds.mask.ndim == 2 else ds.mask[0]


def pie_sweep(ds, name: str, config, angle: int = 0):
    """One ePIE/rPIE sweep over the positions of one angle, from the flat start and the probe guess
    (each call the same sweep; includes the engine's per-call preparation of the data)."""
    import baselines

    engine = baselines.rpie if name == "rpie" else baselines.epie
    args = (ds.intensities[angle], ds.positions_px[angle], ds.probe_guess, ds.object_shape, 1)
    kwargs = dict(alpha=config.alpha, beta=config.beta, mask=_mask2(ds), rng=config.seed,
                  update_probe_after=config.update_probe_after)
    return lambda: engine(*args, **kwargs)


def pie_sweep_all_angles(ds, config):
    """One ePIE sweep per angle: an iteration of the conventional ptycho -> FBP pipeline (the
    tomographic FBP at its end runs once and is not included)."""
    sweeps = [pie_sweep(ds, "epie", config, a) for a in range(ds.n_angles)]
    return lambda: [s() for s in sweeps]


def cdi_iteration(ds, name: str, config):
    """One HIO (or ER) iteration on the CDI pattern from a fixed random start."""
    import baselines

    amplitudes = np.sqrt(ds.intensities[0, 0])
    mask = ds.mask if ds.mask.ndim == 2 else ds.mask[0, 0]
    if name == "er":
        return lambda: baselines.er(amplitudes, ds.support, 1, mask=mask, rng=config.seed)
    return lambda: baselines.hio(amplitudes, ds.support, 1, config.beta, mask=mask, rng=config.seed)


def fbp_reconstruction(ds, config):
    """Filtered back projection of -log(I / I0) (the 'fbp' solver's core): one call is the solver."""
    import baselines

    flat = np.abs(ds.probe_guess[0]) ** 2
    k_dz = units.wavenumber_per_m(ds.geometry.energy_kev) * ds.geometry.object_pixel_m
    projections = -np.log(np.maximum(ds.intensities[:, 0], 0.5) / flat) / (2 * k_dz)
    return functools.partial(baselines.fbp, projections, ds.angles_rad, filter=config.filter)


def solver_iteration(ds, name: str, config):
    """A callable running one iteration (epoch, sweep) of solver ``name`` on ``ds``, warmed up."""
    if name in THIN_AD or name in VOLUME_AD:
        return AdEpoch(ad_model(ds, name, config), ds, config)
    build = {"epie": lambda: pie_sweep(ds, name, config), "rpie": lambda: pie_sweep(ds, name, config),
             "hio": lambda: cdi_iteration(ds, name, config), "er": lambda: cdi_iteration(ds, name, config),
             "fbp": lambda: fbp_reconstruction(ds, config),
             "ptycho-fbp": lambda: pie_sweep_all_angles(ds, config)}
    if name not in build:
        raise ValueError(f"solver = {name!r} has no per-iteration benchmark: expected one of "
                         f"{', '.join(list(build) + list(THIN_AD + VOLUME_AD))}")
    step = build[name]()
    step()  # warm-up (first-call allocations, FFT plans)
    return step
