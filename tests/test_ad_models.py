"""TF forward models = numpy simulator at equal discretisation; gradients = finite differences."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from ad_helpers import THIN, VOLUME, directional_derivatives, equal_discretisation, model_at_truth  # noqa: E402
from cdibench.ad import losses  # noqa: E402


@pytest.mark.parametrize("name", THIN + VOLUME)
def test_forward_reproduces_simulator(name):
    ds = equal_discretisation(name)
    model = model_at_truth(ds)
    for angle in range(ds.n_angles):
        predicted = model.predict(angle, tf.range(ds.n_positions)).numpy()
        reference = ds.intensities[angle]
        # complex64 arithmetic through up to 48 slices: measured <= 3e-6
        assert np.linalg.norm(predicted - reference) / np.linalg.norm(reference) <= 1e-5


@pytest.mark.parametrize("name", VOLUME)
def test_estimate_returns_the_volume_in_its_physical_layout(name):
    """Rotating models store the volume (n_z, n_x, n_y); what goes in through ``stored`` comes out
    of ``estimate`` as (n_z, n_y, n_x)."""
    ds = equal_discretisation(name)
    model = model_at_truth(ds)
    got = model.estimate(model.variables)
    np.testing.assert_allclose(got["delta"], ds.truth.delta, rtol=1e-6)
    np.testing.assert_allclose(got["beta"], ds.truth.beta, rtol=1e-6)
    assert (model.stored_axes is not None) == bool(np.any(ds.angles_rad))
    sample = np.arange(24.0).reshape(2, 3, 4)
    assert model.stored(sample).shape == ((2, 4, 3) if model.stored_axes else (2, 3, 4))


def _loss(model, ds, angle, positions, loss_fn):
    predicted = model.predict(angle, positions)
    measured = tf.constant(ds.intensities[angle][positions.numpy()].astype(np.float64))
    return loss_fn(predicted, measured, tf.constant(1.0, tf.float64))


@pytest.mark.parametrize("loss", ["amplitude", "intensity", "poisson"])
@pytest.mark.parametrize("name", THIN + VOLUME)
def test_gradient_matches_finite_differences(name, loss):
    """Directional derivative along a random direction, float64, central differences."""
    ds = equal_discretisation(name)
    model = model_at_truth(ds, dtype=np.float64)
    rng = np.random.default_rng(0)
    angle = ds.n_angles // 3
    positions = tf.constant(np.arange(min(3, ds.n_positions)))
    # move away from the minimum so that the gradient is not ~0
    for name_, var in model.variables.items():
        var.assign_add(0.02 * np.abs(var.numpy()).max() * rng.standard_normal(var.shape))
    loss_fn = losses.LOSSES[loss]
    train = [model.variables[k] for k in model.trainable]
    direction = [rng.standard_normal(v.shape) * (np.abs(v.numpy()).max() + 1e-3) for v in train]
    analytic, numeric = directional_derivatives(lambda: _loss(model, ds, angle, positions, loss_fn), train, direction)
    assert abs(analytic - numeric) <= 1e-3 * abs(numeric)
