"""Ptychographic iterative engines: ePIE and rPIE, with mixed-state (multi-mode) probes.

Follows A. M. Maiden & J. M. Rodenburg, "An improved ptychographical phase retrieval algorithm for
diffractive imaging", Ultramicroscopy 109, 1256 (2009) (ePIE); A. M. Maiden, D. Johnson & P. Li,
"Further improvements to the ptychographical iterative engine", Optica 4, 736 (2017) (rPIE); and
P. Thibault & A. Menzel, "Reconstructing state mixtures from diffraction measurements", Nature 494,
68 (2013) (probe modes).

At scan position j (top-left corner p_j = c_j + f_j of the probe window on the object, integer part
c_j, fraction f_j), with O_j = O[c_j : c_j + n] and P_k the probe modes shifted by f_j (Fourier ramp):

    psi_k   = P_k O_j,          Psi_k = F psi_k        (F: centred unitary FFT; see below for near field)
    Psi_k'  = Psi_k sqrt(I_j) / (sqrt(sum_k |Psi_k|^2) + eps)   on unmasked pixels, Psi_k elsewhere
    D_k     = F^-1 Psi_k' - psi_k
    O_j    += U_O(W) sum_k conj(P_k) D_k,   W = sum_k |P_k|^2
    P_k    += U_P(|O_j|^2) conj(O_j) D_k    (then shifted back by -f_j), from iteration
              ``update_probe_after`` on; both updates use the values before this position's update.

Near field (``near_field``): F is the angular-spectrum propagation over the detector distance with
the wave shifted back by -f_j into the beam's frame, Psi_k = F^-1[F[psi_k] H conj(R_j)] (R_j the
+f_j shift ramp, H the transfer function of baselines._propagate; unitary, F^-1 its adjoint): the
probe stays fixed to the beam and the detector, the object moves (in far field the back-shift is an
invisible phase ramp on the pattern). Each propagation is 2 FFTs each way instead of 1.

ePIE:  U_O(W) = alpha / max W,                          U_P(V) = beta / max V
rPIE:  U_O(W) = 1 / ((1 - alpha) W + alpha max W),      U_P(V) = 1 / ((1 - beta) V + beta max V)
(max V over the current object window, as in common ePIE implementations.)

One iteration is one sweep over all positions in a random order drawn from ``rng``. errors[n] =
sum_j sum_unmasked (sqrt(sum_k |Psi_k|^2) - sqrt(I_j))^2 / sum_j sum_unmasked I_j, accumulated over
sweep n with the exit waves before each position's update. Callback protocol: ``callback(n, state)``
after sweep n with state = {"object": complex64 copy, "probe": complex64 copy, "error": errors[n]};
a truthy return stops early. The same sweeps one at a time (set-up apart from the iterations):
:func:`pie_setup` validates and prepares the data, :func:`pie_sweep` runs one sweep,
:func:`pie_estimate` copies the current object and probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import numpy as np
import scipy.fft as sfft

from baselines import _checks as checks
from baselines._fft import fft2, ifft2, shift_ramps
from baselines._positions import (
    PositionCorrection,
    PositionRefinement,
    recentre,
    refine_position,
    start,
)
from baselines._propagate import NearField, detector_kernel

_EPS = 1e-20  # keeps sqrt(I) / |Psi| finite where |Psi| = 0 (there Psi = 0, so the product is 0)

Callback = Callable[[int, dict], "bool | None"]


def _epie_step(weight: np.ndarray, strength: float):
    return strength / (float(weight.max()) + _EPS)


def _rpie_step(weight: np.ndarray, strength: float):
    return 1.0 / ((1.0 - strength) * weight + (strength * float(weight.max()) + _EPS))


class _Data(NamedTuple):
    amp: np.ndarray  # float32 (n_pos, n_y, n_x), sqrt(I), ifftshift-ed in far field (see baselines._fft)
    bad: np.ndarray | None  # bool (n_pos, n_y, n_x) (a broadcast view), the mask, ifftshift-ed in far field
    kernel: np.ndarray | None  # near field: complex64 (n_y, n_x) detector transfer function; far field None
    corners: np.ndarray  # int64 (n_pos, 2)
    ramps: tuple[np.ndarray, np.ndarray] | None  # subpixel ramps, None when every fraction is 0
    total: float  # sum of unmasked I


def _prepare(intensities, positions_px, probe, object_shape, object0, mask, near_field, refine: bool):
    """Validate the data arguments -> (_Data, probe complex64 copy, object complex64 copy, positions
    float64 (n, 2)); refine: keep shift ramps even for whole-pixel positions (they will move)."""
    if near_field is not None and not isinstance(near_field, NearField):
        checks.fail("near_field", repr(near_field), "None (far field) or a baselines.NearField")
    probe = checks.array("probe", probe, "fc", ndim=3).astype(np.complex64)
    checks.nonzero_modes("probe", probe)
    intensities = checks.array("intensities", intensities, "iuf", ndim=3)
    if intensities.shape[1:] != probe.shape[1:]:
        checks.fail("intensities", f"patterns of shape {intensities.shape[1:]}",
                    f"the probe's window shape {probe.shape[1:]}")
    checks.nonnegative("intensities", intensities)
    object_shape = checks.shape2("object_shape", object_shape)
    positions = checks.positions("positions_px", positions_px, probe.shape[1:], object_shape)
    if len(positions) != len(intensities):
        checks.fail("positions_px", f"{len(positions)} positions", f"one per pattern ({len(intensities)})")
    bad = checks.bad_pixels("mask", mask, (intensities.shape[1:], intensities.shape))
    total = float(np.sum(intensities, dtype=np.float64, where=True if bad is None else ~bad))
    if total == 0:
        checks.fail("intensities", "zero on every unmasked pixel", "some measured photons")
    if object0 is None:
        obj = np.ones(object_shape, dtype=np.complex64)
    else:
        obj = checks.array("object0", object0, "iufc", shape=object_shape).astype(np.complex64)
    corners = np.floor(positions).astype(np.int64)
    fractions = positions - corners
    shift = (lambda a: a) if near_field is not None else partial(sfft.ifftshift, axes=(-2, -1))
    data = _Data(amp=shift(np.sqrt(intensities, dtype=np.float32)),
                 bad=None if bad is None else np.broadcast_to(shift(bad), intensities.shape),
                 kernel=None if near_field is None else detector_kernel(near_field, probe.shape[1:]),
                 corners=corners, ramps=shift_ramps(fractions, probe.shape[1:]) if fractions.any() or refine else None,
                 total=total)
    return data, probe, obj, positions


def _revise(psi: np.ndarray, amp: np.ndarray, bad: np.ndarray | None,
            transfer: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Modulus constraint on exit waves psi (k, n_y, n_x) -> (D = psi' - psi, unnormalised residual).

    transfer: None (far field: the detector wave is fft2(psi)) or the near-field transfer function
    times the back-shift ramp, complex64 (n_y, n_x) (the detector wave is ifft2(fft2(psi) transfer)).
    """
    spec = fft2(psi)
    if transfer is not None:
        spec *= transfer
        spec = ifft2(spec)
    mag = np.abs(spec[0]) if len(spec) == 1 else np.sqrt(_power(spec))
    diff = mag - amp
    mag += _EPS
    np.divide(amp, mag, out=mag)
    if bad is not None:
        diff[bad] = 0
        mag[bad] = 1
    spec *= mag
    if transfer is not None:
        spec = fft2(spec)
        spec *= transfer.conj()
    delta = ifft2(spec)
    delta -= psi
    return delta, float(np.vdot(diff, diff))


def _sweep(rule, data: _Data, obj, probe, order, alpha: float, beta: float, update_probe: bool,
           refine: PositionRefinement | None) -> float:
    """One pass over the positions in ``order``, updating obj and probe (and with ``refine`` the
    positions, baselines._positions) in place -> error.

    probe: complex64 (k, n_y, n_x), in real space, or its spectrum fft2(probe) when data.ramps is set
    (shifting it to a position is then one inverse FFT and shifting the update back one forward FFT).
    """
    n_y, n_x = data.amp.shape[1:]
    fixed_step = None if update_probe or data.ramps is not None else rule(_power(probe), alpha)
    residual = 0.0
    for j in order:
        row, col = data.corners[j]
        patch = obj[row:row + n_y, col:col + n_x]
        if data.ramps is None:
            modes = probe
        else:
            ramp = data.ramps[0][j, :, None] * data.ramps[1][j, None, :]
            modes = ifft2(probe * ramp)
        psi = modes * patch
        transfer = data.kernel if data.ramps is None or data.kernel is None else data.kernel * ramp.conj()
        delta, res = _revise(psi, data.amp[j], None if data.bad is None else data.bad[j], transfer)
        residual += res
        step = fixed_step if fixed_step is not None else rule(_power(modes), alpha)
        d_obj = np.einsum("kyx,kyx->yx", modes.conj(), delta)
        if update_probe:
            density = patch.real * patch.real + patch.imag * patch.imag
            delta *= rule(density, beta) * patch.conj()
            probe += delta if data.ramps is None else fft2(delta) * ramp.conj()
        d_obj *= step
        if refine is not None:
            refine_position(refine, j, patch, d_obj, _power(modes), data.corners, data.ramps)
        patch += d_obj
    return residual / data.total


def _power(modes: np.ndarray) -> np.ndarray:
    """sum_k |P_k|^2, float32 (n_y, n_x)."""
    return np.einsum("kyx,kyx->yx", modes.real, modes.real) + np.einsum("kyx,kyx->yx", modes.imag, modes.imag)


@dataclass
class PieRun:
    """An ePIE/rPIE reconstruction between sweeps (:func:`pie_setup`, :func:`pie_sweep`): the
    prepared data, the object and probe (updated in place), the sweep-order generator and the
    sweeps run so far."""

    rule: Callable
    data: _Data
    obj: np.ndarray  # complex64 (n_oy, n_ox)
    probe: np.ndarray  # complex64 (k, n_y, n_x): real space, or its spectrum when data.ramps is set
    generator: np.random.Generator
    alpha: float
    beta: float
    update_probe_after: int
    refinement: PositionRefinement | None  # None: positions fixed
    refine_after: int  # first sweep that refines the positions
    iteration: int = 0


RULES = {"epie": _epie_step, "rpie": _rpie_step}


def pie_setup(rule: str, intensities, positions_px, probe, object_shape, alpha: float = 1.0, beta: float = 1.0,
              object0=None, mask=None, rng=None, update_probe_after: int = 0,
              near_field: NearField | None = None, refine_positions: PositionCorrection | None = None) -> PieRun:
    """Validate and prepare the data (amplitudes, subpixel ramps) of an ePIE (``rule`` "epie") or
    rPIE ("rpie") reconstruction; arguments as :func:`epie`."""
    if rule not in RULES:
        checks.fail("rule", repr(rule), f"one of {tuple(RULES)}")
    alpha = checks.in_range("alpha", alpha, 0.0, 1.0)
    beta = checks.in_range("beta", beta, 0.0, 1.0)
    update_probe_after = checks.integer("update_probe_after", update_probe_after, 0)
    generator = checks.generator(rng)
    if refine_positions is not None and not isinstance(refine_positions, PositionCorrection):
        checks.fail("refine_positions", repr(refine_positions), "None or a baselines.PositionCorrection")
    data, probe, obj, positions = _prepare(intensities, positions_px, probe, object_shape, object0, mask,
                                           near_field, refine_positions is not None)
    state = probe if data.ramps is None else fft2(probe)
    refinement = None if refine_positions is None else start(refine_positions, positions, obj.shape, probe.shape[1:])
    after = 0 if refine_positions is None else refine_positions.start_after
    return PieRun(RULES[rule], data, obj, state, generator, alpha, beta, update_probe_after, refinement, after)


def pie_sweep(run: PieRun) -> float:
    """One sweep over every position in a random order, updating ``run`` in place -> its error."""
    order = run.generator.permutation(len(run.data.amp))
    refine = run.refinement if run.iteration >= run.refine_after else None
    error = _sweep(run.rule, run.data, run.obj, run.probe, order, run.alpha, run.beta,
                   run.iteration >= run.update_probe_after, refine)
    if refine is not None:
        recentre(refine, run.data.corners, run.data.ramps, run.probe.shape[1:])
    run.iteration += 1
    return error


def pie_positions(run: PieRun) -> np.ndarray | None:
    """A copy of the refined positions, float64 (n_pos, 2), or None when they are not refined."""
    return None if run.refinement is None else run.refinement.positions_px.copy()


def pie_estimate(run: PieRun) -> dict:
    """Copies of the current estimate: {"object": complex64 (n_oy, n_ox), "probe": complex64 (k, n_y, n_x)}."""
    return {"object": run.obj.copy(), "probe": _real(run.probe, run.data)}


def _pie(rule: str, intensities, positions_px, probe, object_shape, n_iter, alpha, beta, object0, mask, rng,
         update_probe_after, callback, near_field, refine_positions) -> dict:
    """The shared engine of :func:`epie` and :func:`rpie`: ``n_iter`` sweeps of :func:`pie_sweep`."""
    n_iter = checks.integer("n_iter", n_iter, 0)
    checks.callback("callback", callback)
    run = pie_setup(rule, intensities, positions_px, probe, object_shape, alpha, beta, object0, mask, rng,
                    update_probe_after, near_field, refine_positions)
    errors = []
    for n in range(n_iter):
        errors.append(pie_sweep(run))
        if callback is not None and callback(n, {**pie_estimate(run), "error": errors[-1]}):
            break
    result = {"object": run.obj, "probe": _real(run.probe, run.data), "errors": np.asarray(errors, dtype=np.float64)}
    return result if run.refinement is None else {**result, "positions_px": pie_positions(run)}


def _real(state: np.ndarray, data: _Data) -> np.ndarray:
    """The probe (complex64 copy) from the sweep's representation."""
    return state.copy() if data.ramps is None else ifft2(state)


def epie(intensities, positions_px, probe, object_shape, n_iter: int, alpha: float = 1.0, beta: float = 1.0,
         object0=None, mask=None, rng=None, update_probe_after: int = 0, callback: Callback | None = None,
         near_field: NearField | None = None, refine_positions: PositionCorrection | None = None) -> dict:
    """Extended ptychographical iterative engine (Maiden & Rodenburg 2009), mixed-state probes.

    intensities: float (n_pos, n_y, n_x) >= 0, photons, centred; positions_px: float (n_pos, 2) (row,
    col) top-left corners in object pixels, windows inside the object; probe: complex (n_modes, n_y,
    n_x) initial guess, no all-zero mode; object_shape: (n_oy, n_ox); n_iter >= 0 sweeps; alpha, beta
    in (0, 1]: object and probe step sizes; object0: complex (n_oy, n_ox) start (default ones); mask:
    bool/uint (n_y, n_x) or (n_pos, n_y, n_x), nonzero = bad pixel; rng: seed or Generator (sweep
    order); update_probe_after: first sweep (0-based) that updates the probe (>= n_iter: probe fixed);
    near_field: None (far field: centred patterns) or a :class:`baselines.NearField` (detector images
    of the exit waves propagated by the angular spectrum, baselines._propagate); refine_positions: None
    (positions fixed) or a :class:`baselines.PositionCorrection` (cross-correlation position
    correction, baselines._positions; the result then has "positions_px": float64 (n_pos, 2)).
    Returns {"object": complex64 (n_oy, n_ox), "probe": complex64 (n_modes, n_y, n_x),
    "errors": float64 (n_sweeps_run,)}. Equations in the module docstring.
    """
    return _pie("epie", intensities, positions_px, probe, object_shape, n_iter, alpha, beta, object0, mask,
                rng, update_probe_after, callback, near_field, refine_positions)


def rpie(intensities, positions_px, probe, object_shape, n_iter: int, alpha: float = 0.1, beta: float = 1.0,
         object0=None, mask=None, rng=None, update_probe_after: int = 0, callback: Callback | None = None,
         near_field: NearField | None = None, refine_positions: PositionCorrection | None = None) -> dict:
    """Regularised PIE (Maiden, Johnson & Li 2017): object step 1 / ((1 - alpha) W + alpha max W) with
    W = sum_k |P_k|^2, probe step 1 / ((1 - beta) |O|^2 + beta max |O|^2); alpha, beta in (0, 1]
    (beta = 1 is ePIE's probe update). Arguments and return as :func:`epie`.
    """
    return _pie("rpie", intensities, positions_px, probe, object_shape, n_iter, alpha, beta, object0, mask,
                rng, update_probe_after, callback, near_field, refine_positions)
