"""The TensorFlow side of the AD solver plug-ins (cdibench/solvers/ad_*.py): a Dataset and a
config in, a prepared fit out (model built, trainer compiled and warmed up: untimed), then its
iterations. The physics is in models.py and bragg.py, the optimisation in fit.py; this file only
wires them to the data and to the device."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import tensorflow as tf

from cdibench.ad.bragg import bragg_model
from cdibench.ad.bragg_config import BraggFitConfig
from cdibench.ad.config import FitConfig
from cdibench.ad.devices import device_name
from cdibench.ad.errors import with_errors
from cdibench.ad.fit import FitResult, FitState, fit_epoch, prepare_fit, run_fit
from cdibench.ad.models import thin_model, volume_model
from cdibench.data.spec import sample_depth_px
from cdibench.kinds import kind


@dataclass(frozen=True)
class Prepared:
    """A fit set up on ``device`` (a TensorFlow device such as '/GPU:0', or None: TensorFlow's choice)."""

    fit: FitState
    device: str | None


def _on(device: str | None):
    return tf.device(device) if device else contextlib.nullcontext()


def fit_model(dataset, config: FitConfig):
    """The model the AD solvers fit to ``dataset`` with ``config``, chosen by the kind table: the 2D
    object for thin kinds ('cdi' with its known support and plane wave, 'ptycho-far',
    'ptycho-near'), a volume of ``sample_depth_px(dataset, config.n_slices)`` slices for volume
    kinds; the dataset's probe guess is refined on scanned kinds if the config says so, and the
    experiment's errors the config names (refine_flux, refine_background: cdibench.ad.errors;
    refine_positions: the models' position corrections)."""
    traits = kind(dataset.kind)
    if traits.crystal:
        raise ValueError(f"kind {dataset.kind!r}: a crystal has no thin or volume model (see prepare_bragg)")
    refine = config.refine_probe and traits.scanned
    if config.refine_positions and not (traits.scanned and dataset.n_positions > 1):
        raise ValueError(f"refine_positions: True needs a scan of several positions; kind {dataset.kind!r} "
                         f"has {dataset.n_positions} per angle")
    if traits.thin:
        model = thin_model(dataset, dataset.probe_guess, refine_probe=refine, support=dataset.support,
                           refine_positions=config.refine_positions)
    else:
        shape = (sample_depth_px(dataset, config.n_slices),) + tuple(dataset.object_shape)
        model = volume_model(dataset, dataset.probe_guess, shape, refine_probe=refine,
                             projection=config.projection_approximation, refine_positions=config.refine_positions)
    return _with_errors(model, dataset, config)


def _with_errors(model, dataset, config: FitConfig):
    return with_errors(model, dataset.intensities, flux=config.refine_flux, background=config.refine_background)


def prepare(dataset, config: FitConfig, device: str | None = None) -> Prepared:
    """The fit of :func:`fit_model` (thin and volume kinds), compiled and warmed up on ``device``."""
    model = fit_model(dataset, config)
    with _on(device):
        return Prepared(prepare_fit(model, dataset.intensities, dataset.mask, config), device)


def prepare_bragg(dataset, config: BraggFitConfig, device: str | None = None) -> Prepared:
    """'bragg': the complex 3D crystal (n_slices, n_y, n_x) with the known probe."""
    if config.refine_positions:
        raise ValueError("refine_positions: True is not modelled for 'bragg' (expected False)")
    shape = (sample_depth_px(dataset, config.n_slices),) + tuple(dataset.pattern_shape)
    steps_per_iteration = dataset.n_angles * -(-dataset.n_positions // (config.batch_size or dataset.n_positions))
    with _on(device):
        model = bragg_model(dataset, dataset.probe_guess, shape, support_threshold=config.support_threshold,
                            shrinkwrap_threshold=config.shrinkwrap_threshold,
                            shrinkwrap_sigma_px=config.shrinkwrap_sigma_px,
                            shrinkwrap_after_steps=config.shrinkwrap_after * steps_per_iteration)
        model = _with_errors(model, dataset, config)
        return Prepared(prepare_fit(model, dataset.intensities, dataset.mask, config), device)


def run(prepared: Prepared, recorder) -> tuple[FitResult, dict, str]:
    """The fit's iterations -> (its result, the model's estimate arrays, the device's name)."""
    with _on(prepared.device):
        result = run_fit(prepared.fit, recorder)
    model = prepared.fit.model
    return result, model.estimate(model.variables), device_name(prepared.device)


def step(prepared: Prepared) -> float:
    """One epoch of the fit (see cdibench.ad.fit.fit_epoch) -> its summed loss."""
    with _on(prepared.device):
        return fit_epoch(prepared.fit)
