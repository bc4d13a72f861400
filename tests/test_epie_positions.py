"""ePIE/rPIE scan-position correction (option refine_positions; baselines._positions, the
cross-correlation method of Zhang et al., Opt. Express 21, 13592 (2013)).

The issue's bar is on std-ptycho-far (1.5 px RMS unknown jitter: refined positions within 0.2 px RMS
of the truth, NRMSE <= 1.3x the jitter-free reconstruction's). That case takes minutes here, so the
test runs the same bar on quick-ptycho-far with a 124 px object (room for the jitter inside it);
the std case was run by hand (numbers in issue 16's note).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ad_helpers import DATASETS

from baselines._positions import correlation_shift
from cdibench.data.spec import ErrorsConfig, load_spec
from cdibench.harness.reconstruct import reconstruct
from cdibench.metrics.evaluate import score
from cdibench.simulation import simulate
from cdibench.solvers.registry import solver_config


def test_correlation_shift_measures_a_small_sub_pixel_shift():
    """A smooth random field and its copy moved by (0.03, -0.05) px (Fourier shift): the parabola
    through |C| gets the direction and is linear in the shift (twice the shift, twice the estimate:
    measured within 0.3 %), but biased low by a factor that depends on the field's spectrum
    (measured 0.58 and 0.66 here); the feedback gain absorbs it."""
    rng = np.random.default_rng(0)
    k_y, k_x = np.fft.fftfreq(48)[:, None], np.fft.fftfreq(48)[None, :]
    spectrum = np.fft.fft2(rng.standard_normal((48, 48)) + 1j * rng.standard_normal((48, 48)))
    spectrum *= np.exp(-(k_y ** 2 + k_x ** 2) / (2 * 0.08 ** 2))
    old = np.fft.ifft2(spectrum)
    moved = [correlation_shift(np.fft.ifft2(spectrum * np.exp(-2j * np.pi * f * (0.03 * k_y - 0.05 * k_x))), old)
             for f in (1, 2)]
    ratio = moved[0] / np.array([0.03, -0.05])
    assert np.all((ratio > 0.4) & (ratio <= 1.0)), ratio
    np.testing.assert_allclose(moved[1], 2 * moved[0], rtol=0.02)
    np.testing.assert_allclose(correlation_shift(old, old), [0, 0], atol=1e-12)


def _rms_error_px(positions_px, truth_px):
    """RMS distance (radial) after removing the mean offset, which is the object's own translation."""
    d = positions_px.reshape(-1, 2) - truth_px.reshape(-1, 2)
    d -= d.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(d ** 2, axis=1))))


@pytest.fixture(scope="module")
def cases():
    spec = load_spec(DATASETS / "quick-ptycho-far.toml")
    spec = dataclasses.replace(spec, phantom=dataclasses.replace(spec.phantom, shape_px=(1, 124, 124)))
    jittered = dataclasses.replace(spec, errors=ErrorsConfig(position_jitter_rms_px=1.5))
    return simulate(spec, progress=False), simulate(jittered, progress=False)


def test_epie_corrects_jittered_positions(cases):
    """1.5 px RMS jitter (2.35 px radial RMS here), 200 ePIE sweeps, correction from sweep 10:
    measured 0.087 px RMS left and NRMSE 0.059 against 0.058 jitter-free (0.19 uncorrected)."""
    clean, jittered = cases
    assert _rms_error_px(jittered.positions_px, jittered.truth.positions_px) > 2.0
    base = reconstruct(clean, "epie", solver_config("epie", {"iterations": 200}), progress=False)
    assert base.positions_px is None  # default off: nothing refined, nothing stored
    rec = reconstruct(jittered, "epie", solver_config("epie", {"iterations": 200, "refine_positions": True}),
                      progress=False)
    assert rec.status == "ok", rec.message
    assert rec.positions_px.shape == jittered.positions_px.shape
    error_px = _rms_error_px(rec.positions_px, jittered.truth.positions_px)
    assert error_px <= 0.2, error_px
    ratio = score(jittered, rec)["nrmse"] / score(clean, base)["nrmse"]
    assert ratio <= 1.3, ratio
