"""TensorFlow model of multi-angle Bragg ptychography (kind 'bragg'); its solver wiring is in
cdibench/ad/solvers.py.

The model mirrors :mod:`cdibench.physics.bragg` (frame, signs and approximations are stated there):
for rocking angle ``a`` and scan position ``p``,

    I = sum_modes |F_2D Sum_z [ P_p(r) rho(r) exp(i dG_a . r) ]|^2,

with the unknown complex crystal rho (n_z, n_y, n_x) stored as two float variables ``crystal_re``,
``crystal_im`` (TensorFlow's complex-gradient convention: cdibench/ad/tfops.py). The probe is known
(``dataset.probe_guess``, not refined): its sheared columns P_p and the rocking ramps are
precomputed constants. The centred FFT's two rolls are folded away: for even n,
|fft2c(x)|^2 = |fft2(c x)|^2 with the checkerboard c = (-1)^(i + j), so c and the unitary 1 / sqrt(n_y n_x)
are folded into the probe columns and the prediction comes out in the data's centred layout.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cdibench.ad.models import Model
from cdibench.ad.tfops import fft2c
from cdibench.physics.bragg import (
    BraggGeometry,
    exit_waves,
    illumination,
    rocking_ramp,
    sheared_probes,
)


def dataset_geometry(dataset) -> BraggGeometry:
    """The Bragg geometry of a 'bragg' dataset (cubic voxel = the far-field object pixel)."""
    geo = dataset.geometry
    return BraggGeometry(geo.energy_kev, geo.two_theta_rad, geo.object_pixel_m)


def _columns(dataset, probe, shape, geometry, ctype) -> tuple[np.ndarray, bool]:
    """Probe columns ``ctype`` (K, m, n_z, n_y, n_x) and whether K runs over (angle, position)
    pairs (positions differ between angles) or over positions only (K = n_positions)."""
    positions = dataset.positions_px
    per_angle = not np.all(positions == positions[:1])
    flat = positions.reshape(-1, 2) if per_angle else positions[0]
    return sheared_probes(probe, flat, shape, geometry, dtype=ctype), per_angle


def initial_crystal(dataset, probe, shape, threshold: float = 0.1, radius_fraction: float = 0.35) -> np.ndarray:
    """Starting guess, complex128 (n_z, n_y, n_x): a flat, zero-phase crystal where the scan lights
    the grid (summed probe intensity > ``threshold`` of its maximum) within a centred ball of radius
    ``radius_fraction`` of the grid (no Bragg data fix the position along the incident beam: this
    keeps the crystal in the middle of the box), scaled so that its predicted photons at the
    brightest rocking angle match the measured ones."""
    geometry = dataset_geometry(dataset)
    lit = illumination(probe, dataset.positions_px[0], shape, geometry)
    z, y, x = (np.arange(n) - n // 2 for n in shape)
    ball = (z[:, None, None] ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2) <= (radius_fraction * min(shape)) ** 2
    guess = ((lit > threshold * lit.max()) & ball).astype(np.complex128)
    angle = int(np.argmax(dataset.intensities.sum(axis=(1, 2, 3))))
    probes = sheared_probes(probe, dataset.positions_px[angle], shape, geometry)
    waves = exit_waves(guess.astype(np.complex64), probes, rocking_ramp(dataset.angles_rad[angle], shape, geometry))
    predicted = float(np.sum(np.abs(waves.astype(np.complex128)) ** 2))  # Parseval: unitary FFT
    measured = float(dataset.intensities[angle].sum(dtype=np.float64))
    return guess * np.sqrt(measured / predicted) if predicted > 0 else guess


def _gaussian_transfer(shape, sigma_px: float) -> np.ndarray:
    """Transfer function (unshifted FFT order) of a unit-sum Gaussian blur of rms ``sigma_px``, float64."""
    k = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    return np.exp(-0.5 * sigma_px**2 * sum(ki**2 for ki in k))


def _shrinkwrap(v, dtype, ctype, transfer, threshold: float):
    """Zero the voxels where the blurred amplitude is below ``threshold`` of its maximum (Marchesini
    et al., PRB 68, 140101 (2003)): the support follows the estimate, no knowledge of the truth."""
    amplitude = tf.abs(tf.complex(v["crystal_re"], v["crystal_im"]))
    blurred = tf.math.real(tf.signal.ifft3d(tf.signal.fft3d(tf.cast(amplitude, ctype)) * transfer))
    mask = tf.cast(blurred >= threshold * tf.reduce_max(blurred), dtype)
    v["crystal_re"].assign(v["crystal_re"] * mask)
    v["crystal_im"].assign(v["crystal_im"] * mask)


def bragg_model(dataset, probe, shape, *, support_threshold: float = 0.0, shrinkwrap_threshold: float = 0.0,
                shrinkwrap_sigma_px: float = 1.0, shrinkwrap_after_steps: int = 0,
                init: np.ndarray | None = None, dtype=np.float32) -> Model:
    """Model of a 'bragg' dataset: the crystal (shape (n_z, n_y, n_x), n_y, n_x = the pattern) as
    the unknown; ``probe`` complex (m, n_y, n_x) known.

    Constraints applied after every optimiser step: support_threshold > 0 zeroes the voxels the
    scan lights less than that fraction of the maximum (they are not measured); shrinkwrap_threshold
    > 0 zeroes, from optimiser step ``shrinkwrap_after_steps`` on, the voxels where the amplitude
    blurred by a Gaussian of rms ``shrinkwrap_sigma_px`` voxels is below that fraction of its maximum.
    init: complex (n_z, n_y, n_x) starting crystal (default :func:`initial_crystal`)."""
    ctype = np.complex64 if dtype == np.float32 else np.complex128
    geometry = dataset_geometry(dataset)
    n_y, n_x = dataset.pattern_shape
    columns, per_angle = _columns(dataset, probe, shape, geometry, ctype)
    even = n_y % 2 == 0 and n_x % 2 == 0
    if even:  # |fft2c(x)|^2 = |fft2(c x)|^2, c = (-1)^(i + j); with the unitary norm folded in
        checker = (-1.0) ** np.add.outer(np.arange(n_y), np.arange(n_x)) / np.sqrt(n_y * n_x)
        columns *= checker.astype(columns.real.dtype)
    columns = tf.constant(columns)
    ramps = tf.constant(np.stack([rocking_ramp(a, shape, geometry) for a in dataset.angles_rad]).astype(ctype))
    n_positions = dataset.n_positions
    start = initial_crystal(dataset, probe, shape) if init is None else np.asarray(init)
    variables = {"crystal_re": tf.Variable(start.real.astype(dtype), name="crystal_re"),
                 "crystal_im": tf.Variable(start.imag.astype(dtype), name="crystal_im")}
    support = None
    if support_threshold > 0:
        lit = illumination(probe, dataset.positions_px[0], shape, geometry)
        support = tf.constant((lit > support_threshold * lit.max()).astype(dtype))
    transfer = tf.constant(_gaussian_transfer(shape, shrinkwrap_sigma_px).astype(ctype))
    steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="constrain_steps")

    def forward(v, angle, positions):
        rho = tf.complex(v["crystal_re"], v["crystal_im"]) * tf.gather(ramps, angle)
        index = angle * n_positions + positions if per_angle else positions
        wave = tf.reduce_sum(tf.gather(columns, index) * rho, axis=2)  # (B, m, n_y, n_x)
        far = tf.signal.fft2d(wave) if even else fft2c(wave)
        return tf.reduce_sum(tf.math.real(far) ** 2 + tf.math.imag(far) ** 2, axis=1)

    def constrain(v):
        if support is not None:
            v["crystal_re"].assign(v["crystal_re"] * support)
            v["crystal_im"].assign(v["crystal_im"] * support)
        if shrinkwrap_threshold > 0:
            steps.assign_add(1)
            if steps >= shrinkwrap_after_steps:  # autograph: a graph conditional inside the fit step
                _shrinkwrap(v, dtype, ctype, transfer, shrinkwrap_threshold)

    def estimate(v):
        return {"object": tf.complex(v["crystal_re"], v["crystal_im"]).numpy().astype(np.complex64)}

    return Model(variables=variables, forward=forward, constrain=constrain, estimate=estimate,
                 trainable=("crystal_re", "crystal_im"))
