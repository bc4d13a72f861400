"""TensorFlow's complex-gradient convention, and the optimisers' arithmetic."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from cdibench.ad.optim import Adam, GradientDescent  # noqa: E402
from cdibench.ad.tfops import fft2c, ifft2c, rotate, rotation_tables  # noqa: E402
from cdibench.physics.fft import fft2c as np_fft2c  # noqa: E402
from cdibench.physics.tomography import rotate_volume  # noqa: E402


def test_complex_gradient_is_d_dre_plus_i_d_dim():
    """For real L(z), tape.gradient(L, z) = dL/dRe z + i dL/dIm z (not the Wirtinger dL/dz)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    z0 = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    z = tf.Variable(z0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.abs(z * a) ** 2 + tf.math.real(z) ** 3)
    grad = tape.gradient(loss, z).numpy()
    # L = |a|^2 (x^2 + y^2) + x^3  ->  dL/dx = 2|a|^2 x + 3 x^2, dL/dy = 2|a|^2 y
    x, y = z0.real, z0.imag
    expected = (2 * np.abs(a) ** 2 * x + 3 * x**2) + 1j * (2 * np.abs(a) ** 2 * y)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


def test_tf_fft_matches_numpy_physics():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 16, 12)) + 1j * rng.standard_normal((2, 16, 12))).astype(np.complex64)
    np.testing.assert_allclose(fft2c(tf.constant(x)).numpy(), np_fft2c(x), atol=1e-5)
    np.testing.assert_allclose(ifft2c(fft2c(tf.constant(x))).numpy(), x, atol=1e-5)


def test_tf_rotation_matches_bilinear_simulator_rotation():
    rng = np.random.default_rng(2)
    vol = np.zeros((20, 3, 20), np.float32)
    vol[4:16, :, 5:15] = rng.random((12, 3, 10))
    tables = [tf.constant(t[0]) for t in rotation_tables([np.deg2rad(37.0)], 20, 20)]
    ours = rotate(tf.constant(vol.transpose(0, 2, 1)), *tables).numpy().transpose(0, 2, 1)  # stored (z, x, y)
    np.testing.assert_allclose(ours, rotate_volume(vol, np.deg2rad(37.0), order=1), atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_rotation_gradient_is_the_exact_adjoint(jit):
    """<R x, y> = <x, R^T y> with R^T the hand-built adjoint gather the gradient uses, for angles
    whose fan-out differs (the shared padding K), on a non-cubic volume, with and without XLA."""
    rng = np.random.default_rng(5)
    angles = np.deg2rad([0.0, 23.0, 90.0, 151.0])
    tables = rotation_tables(angles, 12, 9)
    x = tf.constant(rng.standard_normal((12, 9, 4)).astype(np.float32))  # (n_z, n_x, n_y)
    y = tf.constant(rng.standard_normal((12, 9, 4)).astype(np.float32))

    @tf.function(jit_compile=jit)
    def forward_and_adjoint(a):
        t = [tf.gather(tf.constant(table), a) for table in tables]
        with tf.GradientTape() as tape:
            tape.watch(x)
            rx = rotate(x, *t)
        return tf.reduce_sum(rx * y), tf.reduce_sum(x * tape.gradient(rx, x, output_gradients=y))

    for a in range(len(angles)):
        lhs, rhs = (v.numpy() for v in forward_and_adjoint(tf.constant(a)))
        assert abs(lhs - rhs) <= 1e-5 * abs(lhs), (a, lhs, rhs)


def _numpy_adam(x, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = s = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return x


def test_adam_matches_reference():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(7)
    grads = [rng.standard_normal(7) for _ in range(5)]
    v = tf.Variable(x0)
    opt = Adam([v], 0.05)
    for g in grads:
        opt.apply([tf.constant(g)])
    np.testing.assert_allclose(v.numpy(), _numpy_adam(x0, grads, 0.05), rtol=1e-10)


def test_gradient_descent_and_per_variable_rates():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
    GradientDescent([a, b], [0.1, 0.5]).apply([tf.constant([1.0, -1.0]), tf.constant([2.0])])
    np.testing.assert_allclose(a.numpy(), [0.9, 2.1])
    np.testing.assert_allclose(b.numpy(), [2.0])
