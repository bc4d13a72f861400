"""Data losses and regularisers. Masked pixels carry weight 0 and never enter a loss.

predicted, measured: (B, n_y, n_x) photons; weights: broadcastable, 1 = good pixel, 0 = masked.
Each loss is a sum over the batch's pixels (the fit loop normalises by the number of frames).
"""

from __future__ import annotations

import tensorflow as tf

EPS = 1e-6


def amplitude(predicted, measured, weights):
    """Gaussian noise on amplitudes: sum w (sqrt(I_pred) - sqrt(I_meas))^2 (robust to Poisson)."""
    return tf.reduce_sum(weights * (tf.sqrt(predicted + EPS) - tf.sqrt(measured)) ** 2)


def intensity(predicted, measured, weights):
    """Least squares on intensities: sum w (I_pred - I_meas)^2."""
    return tf.reduce_sum(weights * (predicted - measured) ** 2)


def poisson(predicted, measured, weights):
    """Poisson negative log-likelihood up to a constant: sum w (I_pred - I_meas log I_pred)."""
    return tf.reduce_sum(weights * (predicted - measured * tf.math.log(predicted + EPS)))


LOSSES = {"amplitude": amplitude, "intensity": intensity, "poisson": poisson}


def total_variation(image):
    """Isotropic-free (anisotropic) TV of a real tensor over its last two (or three) axes."""
    tv = tf.reduce_sum(tf.abs(image[..., 1:, :] - image[..., :-1, :]))
    tv += tf.reduce_sum(tf.abs(image[..., :, 1:] - image[..., :, :-1]))
    if len(image.shape) == 3:
        tv += tf.reduce_sum(tf.abs(image[1:] - image[:-1]))
    return tv


def l1(image):
    return tf.reduce_sum(tf.abs(image))
