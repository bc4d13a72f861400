"""Optimisers on real float variables, written out so that their arithmetic is explicit and tested.

Keras 3's Adam mishandles complex variables (its second moment uses g^2, not |g|^2); cdibench has
no complex variables at all, and keeps its own Adam (Kingma & Ba 2015, with bias correction) and
plain gradient descent so that the update is the same inside ``tf.function``/XLA on every backend.
tests/test_ad_optim.py checks both against a numpy reference.
"""

from __future__ import annotations

import tensorflow as tf


def _rates(variables, learning_rate) -> list[float]:
    """One learning rate per variable: a float for all, or a sequence aligned with ``variables``."""
    if isinstance(learning_rate, (int, float)):
        return [float(learning_rate)] * len(variables)
    return [float(r) for r in learning_rate]


class GradientDescent:
    """x <- x - lr * g. ``scale`` multiplies every rate (learning-rate schedules)."""

    def __init__(self, variables, learning_rate):
        self.variables = list(variables)
        self.lrs = _rates(self.variables, learning_rate)
        self.scale = tf.Variable(1.0, dtype=tf.float64, trainable=False)

    def apply(self, grads):
        for v, g, lr in zip(self.variables, grads, self.lrs):
            v.assign_sub(tf.cast(lr * self.scale, v.dtype) * g)

    def state(self) -> list[tf.Variable]:
        return []


class Adam:
    """m <- b1 m + (1 - b1) g; s <- b2 s + (1 - b2) g^2; x <- x - lr m_hat / (sqrt(s_hat) + eps).

    ``scale`` multiplies every rate (learning-rate schedules)."""

    def __init__(self, variables, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.variables = list(variables)
        self.lrs = _rates(self.variables, learning_rate)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.s = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.t = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.scale = tf.Variable(1.0, dtype=tf.float64, trainable=False)

    def apply(self, grads):
        self.t.assign_add(1.0)
        c1 = 1.0 - tf.pow(tf.constant(self.beta1, tf.float64), self.t)
        c2 = 1.0 - tf.pow(tf.constant(self.beta2, tf.float64), self.t)
        bias = self.scale * tf.sqrt(c2) / c1
        for v, g, m, s, lr in zip(self.variables, grads, self.m, self.s, self.lrs):
            m.assign(self.beta1 * m + (1 - self.beta1) * g)
            s.assign(self.beta2 * s + (1 - self.beta2) * g * g)
            eps = self.epsilon * tf.sqrt(tf.cast(c2, v.dtype))
            v.assign_sub(tf.cast(lr * bias, v.dtype) * m / (tf.sqrt(s) + eps))

    def state(self) -> list[tf.Variable]:
        return self.m + self.s + [self.t]


OPTIMIZERS = {"adam": Adam, "gd": GradientDescent}
