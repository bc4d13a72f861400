"""The one generic fit loop: minibatches of (angle, positions), a compiled epoch, history, divergence.

It knows a Model only through ``forward``, ``constrain``, ``variables`` and ``trainable``. A fit is
set up once (:func:`prepare_fit`: the compiled trainer and its warm-up, untimed), then iterated
(:func:`run_fit`, or one epoch at a time with :func:`fit_epoch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from cdibench.ad import losses
from cdibench.ad.config import FitConfig
from cdibench.ad.errors import LEARNING_RATES
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


def _learning_rates(names: tuple[str, ...], config: FitConfig) -> list[float]:
    """The rate of each trainable variable: the probe's, an experimental error's (cdibench.ad.errors),
    or the object's / volume's."""
    probe = config.probe_learning_rate or config.learning_rate
    return [getattr(config, LEARNING_RATES[k]) if k in LEARNING_RATES
            else probe if k.startswith("probe") else config.learning_rate for k in names]


def _weights(mask: np.ndarray, dtype) -> tf.Tensor:
    return tf.constant((mask == 0).astype(dtype))


class Trainer:
    """The compiled optimisation of one model on one dataset: ``epoch(batches)`` runs one epoch of
    minibatches (:meth:`batches`) and returns the summed loss. Built by :func:`prepare_fit`; the
    solvers' runs and the asv benchmarks' steps both iterate it (:func:`fit_epoch`), so that what is
    timed is what runs.

    intensities: float (n_angles, n_positions, n_y, n_x); mask: uint32, (n_y, n_x) or the
    intensities' shape, 0 = good.
    """

    def __init__(self, model, intensities: np.ndarray, mask: np.ndarray, config: FitConfig):
        dtype = model.variables[model.trainable[0]].dtype.as_numpy_dtype
        if model.unshifted:  # compare in the model's FFT order: shift the data once, not every prediction
            intensities = np.fft.ifftshift(intensities, axes=(-2, -1))
            mask = np.fft.ifftshift(mask, axes=(-2, -1))
        data = tf.constant(intensities.astype(dtype))
        weights = _weights(mask, dtype)
        per_frame_mask = weights.shape.rank == 4
        n_frames = float(intensities.shape[0] * intensities.shape[1])
        train = [model.variables[k] for k in model.trainable]
        is_probe = [k.startswith("probe") for k in model.trainable]
        self.optimizer = OPTIMIZERS[config.optimizer](train, _learning_rates(model.trainable, config))
        self.probe_on = tf.Variable(config.probe_after == 0, trainable=False)
        loss_fn = losses.LOSSES[config.loss]
        regularised = [model.variables[k] for k in model.trainable
                       if not k.startswith("probe") and k not in LEARNING_RATES]

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
            grads = [g * tf.cast(self.probe_on, g.dtype) if p else g for g, p in zip(grads, is_probe)]
            self.optimizer.apply(grads)
            model.constrain(model.variables)
            return loss

        def epoch(angles, positions):
            """Every minibatch of an epoch, all of one size, in one call: one dispatch and one XLA
            program per epoch instead of one per minibatch (measured: a quarter of ad-ptycho's epoch)."""
            total = tf.zeros((), dtype)
            for k in tf.range(tf.shape(angles)[0]):
                total += step(tf.gather(angles, k), tf.gather(positions, k))
            return total

        self.shape = intensities.shape[:2]
        self.batch_size = config.batch_size
        n_positions = self.shape[1]
        self.uniform = config.batch_size == 0 or config.batch_size >= n_positions or n_positions % config.batch_size == 0
        self._compiled = tf.function(epoch if self.uniform else step, jit_compile=config.jit_compile,
                                     reduce_retracing=True)
        self.state = train + self.optimizer.state()

    def batches(self, rng) -> list[tuple[int, np.ndarray]]:
        """One epoch's (angle, positions) minibatches in a random order."""
        return _batches(self.shape[0], self.shape[1], self.batch_size, rng)

    def epoch(self, batches) -> float:
        """Run ``batches`` (one compiled call when all have one size) and return the summed loss."""
        if self.uniform:
            return float(self._compiled(tf.constant([a for a, _ in batches]),
                                        tf.constant(np.stack([p for _, p in batches]))))
        return math.fsum(float(self._compiled(tf.constant(a), tf.constant(p))) for a, p in batches)

    def warm_up(self, rng) -> None:
        """Trace and compile on one epoch (one minibatch of each size when sizes differ), then
        restore the variables and optimiser state: tracing and XLA stay out of the timed iterations."""
        snapshot = [v.numpy() for v in self.state]
        batches = self.batches(rng)
        self.epoch(batches if self.uniform else list({len(p): (a, p) for a, p in batches}.values()))
        for v, value in zip(self.state, snapshot):
            v.assign(value)


@dataclass
class FitState:
    """A fit between its untimed set-up (:func:`prepare_fit`) and its iterations: the model, its
    compiled :class:`Trainer`, the minibatch-order generator and the iterations run so far."""

    model: object
    config: FitConfig
    trainer: Trainer
    rng: np.random.Generator
    iteration: int = 0


def prepare_fit(model, intensities: np.ndarray, mask: np.ndarray, config: FitConfig) -> FitState:
    """Build the :class:`Trainer` (arrays as there) and warm it up: the first epoch (or one
    minibatch of each size, when their sizes differ) is traced and run once, then the variables and
    optimiser state are restored. Everything here is set-up, outside the timed iterations."""
    trainer = Trainer(model, intensities, mask, config)
    rng = np.random.default_rng(config.seed)
    trainer.warm_up(rng)
    return FitState(model, config, trainer, rng)


def fit_epoch(state: FitState) -> float:
    """One iteration: the next epoch at its learning-rate scale and probe switch -> its summed loss."""
    state.iteration += 1
    config, trainer = state.config, state.trainer
    trainer.probe_on.assign(config.refine_probe and state.iteration > config.probe_after)
    trainer.optimizer.scale.assign(config.decay_to ** ((state.iteration - 1) / max(config.iterations - 1, 1)))
    return trainer.epoch(trainer.batches(state.rng))


def run_fit(state: FitState, recorder) -> FitResult:
    """The iterations of a prepared fit, each recorded; a non-finite loss restores the last finite
    variables and stops (status "diverged")."""
    model, config = state.model, state.config
    last_finite = [v.numpy() for v in model.variables.values()]
    for iteration in range(1, config.iterations + 1):
        total = fit_epoch(state)
        if not np.isfinite(total):
            for v, value in zip(model.variables.values(), last_finite):
                v.assign(value)
            return FitResult("diverged", f"loss became {total} at iteration {iteration}", iteration - 1)
        last_finite = [v.numpy() for v in model.variables.values()]
        if recorder.record(iteration, total, lambda: model.estimate(model.variables),
                           force_metrics=iteration == config.iterations):
            return FitResult("ok", f"time budget reached after {iteration} iterations", iteration)
    return FitResult("ok", "", config.iterations)


def fit(model, intensities: np.ndarray, mask: np.ndarray, config: FitConfig, recorder) -> FitResult:
    """Minimise the data loss (+ regularisers) over the model's trainable variables (see
    :class:`Trainer` for the arrays): :func:`prepare_fit` (untimed), the recorder's clock
    restarted, then :func:`run_fit`."""
    state = prepare_fit(model, intensities, mask, config)
    recorder.restart()
    return run_fit(state, recorder)
