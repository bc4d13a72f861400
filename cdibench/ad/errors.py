"""The experiment's errors as AD unknowns, wrapped around any Model (issue [2/7]):
``predicted' = flux_scale[angle, position] * predicted + background``.

- flux_scale: the per-frame incident-flux factor, float (n_angles, n_positions), starts at 1. Its
  mean is degenerate with the object's and probe's overall intensity, so ``constrain`` projects it
  back to mean 1 after every step.
- background: a detector background, constant over frames, float (n_y, n_x) in the model's FFT
  order (unshifted when ``Model.unshifted``, like the data the fit loop compares with), starts at
  0, projected to >= 0. It is stored in units of the data's mean photons per pixel, so that its
  learning rate is a relative step whatever the photon count.

The fit loop reads each term's learning rate from the config field named in ``LEARNING_RATES``
and leaves these terms out of the object regularisers. The scan-position corrections enter inside
the forward models' Fourier ramps (cdibench.ad.models, refine_positions), so they are no wrapper
here; their learning rate is listed here all the same.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cdibench.ad.models import POSITION_CORRECTION, Model

#: variable -> the FitConfig field holding its learning rate
LEARNING_RATES = {"flux_scale": "flux_learning_rate", "background": "background_learning_rate",
                  POSITION_CORRECTION: "position_learning_rate"}


def with_errors(model: Model, intensities: np.ndarray, *, flux: bool, background: bool) -> Model:
    """``model`` with the per-frame flux scale and/or the detector background as extra trainable
    unknowns (``model`` itself when neither). intensities: the data, (n_angles, n_positions, n_y,
    n_x) photons: their shape sizes the unknowns, their mean sets the background's unit.

    The estimate adds "flux_scale" float32 (n_angles, n_positions) and "background" float32
    (n_y, n_x) photons per pixel, in the data's centred order."""
    if not (flux or background):
        return model
    dtype = model.variables[model.trainable[0]].dtype.as_numpy_dtype
    frames, pattern = intensities.shape[:2], intensities.shape[-2:]
    unit = float(np.mean(intensities, dtype=np.float64)) or 1.0
    extra = {}
    if flux:
        extra["flux_scale"] = tf.Variable(np.ones(frames, dtype), name="flux_scale")
    if background:
        extra["background"] = tf.Variable(np.zeros(pattern, dtype), name="background")
    variables = {**model.variables, **extra}

    def forward(v, angle, positions):
        predicted = model.forward(v, angle, positions)
        if flux:
            # gather from the flat view: its gradient is dense (a gather's own is IndexedSlices)
            scales = tf.gather(tf.reshape(v["flux_scale"], [-1]), tf.cast(angle, positions.dtype) * frames[1] + positions)
            predicted = predicted * scales[:, None, None]
        if background:
            predicted = predicted + tf.cast(unit, predicted.dtype) * v["background"]
        return predicted

    def constrain(v):
        model.constrain(v)
        if flux:
            v["flux_scale"].assign(v["flux_scale"] / tf.reduce_mean(v["flux_scale"]))
        if background:
            v["background"].assign(tf.maximum(v["background"], 0))

    def estimate(v):
        out = model.estimate(v)
        if flux:
            out["flux_scale"] = v["flux_scale"].numpy().astype(np.float32)
        if background:
            photons = v["background"].numpy() * unit
            out["background"] = (np.fft.fftshift(photons) if model.unshifted else photons).astype(np.float32)
        return out

    return Model(variables, forward, constrain, estimate, model.trainable + tuple(extra), model.unshifted,
                 model.stored_axes)
