"""Shared set-up of the AD tests: small noise-free datasets and models loaded with the truth."""

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np

from cdibench import units
from cdibench.data.spec import load_spec
from cdibench.kinds import kind
from cdibench.physics.noise import NoiseConfig
from cdibench.simulation import simulate

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
THIN = ("quick-cdi", "quick-ptycho-far", "quick-ptycho-near")
VOLUME = ("quick-multislice", "quick-multislice-tomo", "quick-fullfield-tomo")


@lru_cache(maxsize=None)
def equal_discretisation(name: str):
    """Noise-free data simulated at the reconstruction grid (no finer grid, one step per voxel,
    bilinear rotation, no padding): the TF models must reproduce it exactly."""
    spec = load_spec(DATASETS / f"{name}.toml")
    spec = dataclasses.replace(
        spec, noise=NoiseConfig(photons_per_frame=spec.noise.photons_per_frame, poisson=False),
        simulation=dataclasses.replace(spec.simulation, grid_upsample=1, slices_per_voxel=1,
                                       rotation_order=1, pad_px=0))
    ds = simulate(spec)
    return dataclasses.replace(ds, positions_px=ds.truth.positions_px, probe_guess=ds.truth.probe)


def model_at_truth(ds, dtype=np.float32):
    """The kind's model with its unknowns set to the ground truth."""
    from cdibench.ad.models import thin_model, volume_model

    truth = ds.truth
    if kind(ds.kind).thin:
        model = thin_model(ds, truth.probe, support=ds.support, dtype=dtype)
        model.variables["object_re"].assign(truth.object.real.astype(dtype))
        model.variables["object_im"].assign(truth.object.imag.astype(dtype))
        return model
    model = volume_model(ds, truth.probe, truth.delta.shape, refine_probe=True, dtype=dtype)
    k_dz = units.wavenumber_per_m(ds.geometry.energy_kev) * truth.voxel_size_m
    model.variables["phase"].assign(model.stored(truth.delta * k_dz).astype(dtype))
    model.variables["absorption"].assign(model.stored(truth.beta * k_dz).astype(dtype))
    return model


def directional_derivatives(loss, variables, directions, eps: float = 1e-6) -> tuple[float, float]:
    """(backpropagated, central-difference) derivative of ``loss()`` along ``directions`` (one array
    per tf.Variable of ``variables``); the variables are restored afterwards."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, variables)
    analytic = sum(float(tf.reduce_sum(g * d)) for g, d in zip(grads, directions))
    values = []
    for sign in (1, -1):
        for v, d in zip(variables, directions):
            v.assign_add(sign * eps * d)
        values.append(float(loss()))
        for v, d in zip(variables, directions):
            v.assign_sub(sign * eps * d)
    return analytic, (values[0] - values[1]) / (2 * eps)
