"""The one generic fit loop: minibatches of (angle, positions), a compiled step, history, divergence.

It knows a Model only through ``forward``, ``constrain``, ``variables`` and ``trainable``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from cdibench.ad import losses
from cdibench.ad.config import FitConfig
from cdibench.ad.optim import OPTIMIZERS


@dataclass(frozen=True)
class FitResult:
    status: str
    message: str
    iterations: int


def _batches(n_angles: int, n_positions: int, batch_size: int, rng) -> list[tuple[int, np.ndarray]]:
    """(angle, positions) minibatches of one epoch in a random order."""
    size = batch_size or n_positions
    out = []
    for angle in range(n_angles):
        order = rng.permutation(n_positions) if size < n_positions else np.arange(n_positions)
        out += [(angle, np.sort(order[i:i + size])) for i in range(0, n_positions, size)]
    return [out[i] for i in rng.permutation(len(out))]


def _weights(mask: np.ndarray, dtype) -> tf.Tensor:
    return tf.constant((mask == 0).astype(dtype))


def fit(model, intensities: np.ndarray, mask: np.ndarray, config: FitConfig, recorder) -> FitResult:
    """Minimise the data loss (+ regularisers) over the model's trainable variables.

    intensities: float (n_angles, n_positions, n_y, n_x); mask: uint32, (n_y, n_x) or the
    intensities' shape, 0 = good. The first epoch (or minibatch, when their sizes differ) is traced
    and run once untimed (warm-up), then the variables and optimiser state are restored and the
    clock restarted.
    """
    dtype = model.variables[model.trainable[0]].dtype.as_numpy_dtype
    if model.unshifted:  # compare in the model's FFT order: shift the data once, not every prediction
        intensities = np.fft.ifftshift(intensities, axes=(-2, -1))
        mask = np.fft.ifftshift(mask, axes=(-2, -1))
    data = tf.constant(intensities.astype(dtype))
    weights = _weights(mask, dtype)
    per_frame_mask = weights.shape.rank == 4
    n_frames = float(intensities.shape[0] * intensities.shape[1])
    train = [model.variables[k] for k in model.trainable]
    probe_lr = config.probe_learning_rate or config.learning_rate
    is_probe = [k.startswith("probe") for k in model.trainable]
    optimizer = OPTIMIZERS[config.optimizer](train, [probe_lr if p else config.learning_rate for p in is_probe])
    probe_on = tf.Variable(config.probe_after == 0, trainable=False)
    loss_fn = losses.LOSSES[config.loss]
    regularised = [model.variables[k] for k in model.trainable if not k.startswith("probe")]

    def step(angle, positions):
        with tf.GradientTape() as tape:
            predicted = model.forward(model.variables, angle, positions)
            measured = tf.gather(tf.gather(data, angle), positions)
            w = tf.gather(tf.gather(weights, angle), positions) if per_frame_mask else weights
            loss = loss_fn(predicted, measured, w) / n_frames
            if config.tv_weight:
                loss += config.tv_weight * tf.add_n([losses.total_variation(v) for v in regularised])
            if config.l1_weight:
                loss += config.l1_weight * tf.add_n([losses.l1(v) for v in regularised])
        grads = tape.gradient(loss, train)
        grads = [g * tf.cast(probe_on, g.dtype) if p else g for g, p in zip(grads, is_probe)]
        optimizer.apply(grads)
        model.constrain(model.variables)
        return loss

    def epoch(angles, positions):
        """Every minibatch of an epoch, all of one size, in one call: one dispatch and one XLA
        program per epoch instead of one per minibatch (measured: a third of ad-ptycho's epoch)."""
        total = tf.zeros((), dtype)
        for k in tf.range(tf.shape(angles)[0]):
            total += step(tf.gather(angles, k), tf.gather(positions, k))
        return total

    n_angles, n_positions = intensities.shape[:2]
    uniform = config.batch_size == 0 or config.batch_size >= n_positions or n_positions % config.batch_size == 0
    compiled = tf.function(epoch if uniform else step, jit_compile=config.jit_compile, reduce_retracing=True)

    def run_epoch(batches) -> float:
        if uniform:
            return float(compiled(tf.constant([a for a, _ in batches]), tf.constant(np.stack([p for _, p in batches]))))
        return math.fsum(float(compiled(tf.constant(a), tf.constant(p))) for a, p in batches)

    rng = np.random.default_rng(config.seed)
    state = train + optimizer.state()
    snapshot = [v.numpy() for v in state]
    run_epoch(_batches(n_angles, n_positions, config.batch_size, rng)[:None if uniform else 1])  # untimed warm-up
    for v, value in zip(state, snapshot):
        v.assign(value)
    recorder.restart()
    last_finite = [v.numpy() for v in model.variables.values()]
    for iteration in range(1, config.iterations + 1):
        probe_on.assign(config.refine_probe and iteration > config.probe_after)
        optimizer.scale.assign(config.decay_to ** ((iteration - 1) / max(config.iterations - 1, 1)))
        total = run_epoch(_batches(n_angles, n_positions, config.batch_size, rng))
        if not np.isfinite(total):
            for v, value in zip(model.variables.values(), last_finite):
                v.assign(value)
            return FitResult("diverged", f"loss became {total} at iteration {iteration}", iteration - 1)
        last_finite = [v.numpy() for v in model.variables.values()]
        if recorder.record(iteration, total, lambda: model.estimate(model.variables),
                           force_metrics=iteration == config.iterations):
            return FitResult("ok", f"time budget reached after {iteration} iterations", iteration)
    return FitResult("ok", "", config.iterations)
