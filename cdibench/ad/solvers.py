"""AD solvers: a Dataset and a FitConfig in, a Reconstruction out. The physics is in models.py,
the optimisation in fit.py; this file only wires them to the data."""

from __future__ import annotations

import contextlib
from dataclasses import asdict

import tensorflow as tf

from cdibench.ad.devices import device_name
from cdibench.ad.config import FitConfig, VolumeFitConfig
from cdibench.ad.fit import fit
from cdibench.ad.models import thin_model, volume_model
from cdibench.harness.provenance import provenance
from cdibench.data.reconstruction import Reconstruction
from cdibench.data.spec import sample_depth_px



def _run(name, dataset, model, config, recorder, device: str | None) -> Reconstruction:
    with tf.device(device) if device else contextlib.nullcontext():
        result = fit(model, dataset.intensities, dataset.mask, config, recorder)
    estimate = model.estimate(model.variables)
    return Reconstruction(solver=name, config=asdict(config), history=recorder.history(),
                          status=result.status, message=result.message,
                          provenance=provenance(seed=config.seed, device=device_name(device)), **estimate)


def solve_thin(name: str, dataset, config: FitConfig, recorder, device: str | None = None) -> Reconstruction:
    """'cdi' (known support, plane wave), 'ptycho-far' and 'ptycho-near'."""
    refine = config.refine_probe and dataset.kind != "cdi"
    model = thin_model(dataset, dataset.probe_guess, refine_probe=refine, support=dataset.support)
    return _run(name, dataset, model, config, recorder, device)


def solve_volume(name: str, dataset, config: VolumeFitConfig, recorder, device: str | None = None) -> Reconstruction:
    """'multislice', 'multislice-tomo' and 'fullfield-tomo': the volume as the unknown."""
    shape = (sample_depth_px(dataset, config.n_slices),) + tuple(dataset.object_shape)
    refine = config.refine_probe and dataset.kind != "fullfield-tomo"
    model = volume_model(dataset, dataset.probe_guess, shape, refine_probe=refine,
                         projection=config.projection_approximation)
    return _run(name, dataset, model, config, recorder, device)
