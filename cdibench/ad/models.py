"""TensorFlow forward models, each mirroring the numpy simulator of one kind of experiment.

A :class:`Model` is its unknowns (real float variables), a forward function
``forward(variables, angle, positions) -> predicted intensities (B, n_y, n_x)`` for one angle and a
batch of its scan positions, a projection ``constrain`` applied after every optimiser step, and
``estimate`` turning the variables into numpy results. The fit loop knows nothing else, so a new
experiment needs only a new forward function (see README, "A new experiment").

- thin: 2D complex object x probe modes at subpixel positions (far-field CDI, far-field and
  near-field ptychography); unknowns object (re, im), probe (re, im), optional support.
- volume: 3D volume as phase and absorption per voxel, phi = k dz delta and a = k dz beta (>= 0),
  rotated per angle (bilinear gather), propagated slice by slice (multislice), far- or near-field
  detection: single-angle multislice, multi-angle multislice and full-field tomography.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from cdibench import units
from cdibench.ad.tfops import patch_indices, rotate, rotation_tables, shift_ramps
from cdibench.physics.propagators import angular_spectrum_kernel
from cdibench.physics.ptychography import split_positions

#: the scan-position corrections' variable, float (n_angles, n_positions, 2) px (refine_positions)
POSITION_CORRECTION = "position_correction"


@dataclass(frozen=True)
class Model:
    """unshifted: ``forward`` returns far-field intensities in unshifted FFT order (zero frequency
    at [0, 0]); the fit loop then ifftshifts the data once instead of shifting every prediction.
    |fft2c(x)|^2 = fftshift(|fft2(x)|^2) exactly, so this saves two complex rolls per FFT.
    stored_axes: the transpose from an unknown's physical layout to its variable's (None: the same);
    ``estimate`` returns physical layouts, :meth:`stored` converts the other way (e.g. to start a
    fit from given values)."""

    variables: dict
    forward: Callable
    constrain: Callable
    estimate: Callable
    trainable: tuple[str, ...]
    unshifted: bool = False
    stored_axes: tuple[int, ...] | None = None

    def stored(self, array: np.ndarray) -> np.ndarray:
        """``array`` (an unknown in its physical layout, e.g. a volume (n_z, n_y, n_x)) in the layout
        its variable is stored in (``stored_axes``: the transpose, None for the same)."""
        return array if self.stored_axes is None else np.transpose(array, self.stored_axes)

    def predict(self, angle, positions):
        """Intensities in the data's layout (zero frequency at the centre pixel)."""
        predicted = self.forward(self.variables, angle, positions)
        return tf.signal.fftshift(predicted, axes=(-2, -1)) if self.unshifted else predicted


def _far_norm(dataset, window) -> float:
    """The unitary FFT's 1 / sqrt(N), folded into the probe amplitude (the exit wave is linear in it)."""
    return 1.0 / np.sqrt(window[0] * window[1]) if dataset.geometry.detection == "far" else 1.0


def _propagator(dataset, window, ctype):
    """Detector operator ``detect(wave, ramps)`` on object-frame waves (B, m, n_y, n_x) (the probe
    shifted by the fraction f, times the whole-pixel window; physics.ptychography) with their probe
    shift ramps (B, n_y, n_x) or None: unshifted FFT (far field, see Model.unshifted; the back-shift
    is a phase ramp on the pattern, invisible), or angular spectrum over the detector distance
    (near field; identity at contact) with the wave shifted back by -f, conj(ramp), folded into the
    transfer function: the probe stays fixed to the beam and the detector, the object moves."""
    if dataset.geometry.detection == "far":
        return lambda wave, ramps: tf.signal.fft2d(wave)
    kernel = detector_kernel(dataset, window, ctype)
    k = None if kernel is None else tf.constant(kernel)

    def detect(wave, ramps):
        if ramps is None:
            return wave if k is None else tf.signal.ifft2d(tf.signal.fft2d(wave) * k)
        transfer = tf.math.conj(ramps) if k is None else k * tf.math.conj(ramps)
        return tf.signal.ifft2d(tf.signal.fft2d(wave) * transfer[:, None])
    return detect


def _shifted_probe(probe, shifts):
    """Probe modes (m, w, w) shifted per position by Fourier ramps -> (B, m, w, w) and the ramps
    (B, w, w); shifts: the batch's subpixel shifts (B, 2), or None when all positions are whole
    pixels (then (1, m, w, w) and None)."""
    if shifts is None:
        return probe[None], None
    ramps = shift_ramps(shifts, tuple(probe.shape[-2:]), probe.dtype)
    return tf.signal.ifft2d(tf.signal.fft2d(probe)[None] * ramps[:, None]), ramps


def _batch_shifts(fractions, v, angle, positions):
    """The batch's Fourier shifts (B, 2) px: the recorded positions' fractions, plus the refined
    corrections where the model has them (:func:`_scan_unknowns`); None when there is neither."""
    if POSITION_CORRECTION not in v:
        return None if fractions is None else tf.gather(tf.gather(fractions, angle), positions)
    correction = v[POSITION_CORRECTION]
    # gather from the flat view: its gradient is dense (a gather's own is IndexedSlices)
    rows = tf.cast(angle, positions.dtype) * correction.shape[1] + positions
    return tf.gather(tf.gather(fractions, angle), positions) + tf.gather(tf.reshape(correction, (-1, 2)), rows)


def _scan_unknowns(positions_px, dtype, refine: bool) -> dict:
    """{POSITION_CORRECTION: zeros (n_a, n_p, 2) px} when refining the scan positions, else {}.

    The corrections only enter the Fourier ramps: the whole-pixel windows stay those of the recorded
    positions, so a total shift (fraction + correction) of s px moves the probe (far field) or the
    object (near field) circularly inside its window and wraps s px of its edge around. That is
    exact while what moves keeps a margin of s px inside the window (std-ptycho-far's probe: ~30 px
    of 128; near field, whose probe fills the window: about a pixel or two before the wrapped
    object edge matters); the windows are never re-gathered."""
    if not refine:
        return {}
    return {POSITION_CORRECTION: tf.Variable(np.zeros(positions_px.shape, dtype), name=POSITION_CORRECTION)}


def _constrain_scan(v) -> None:
    """Global drift is degenerate with a translation of the object: the corrections' mean is
    projected to zero per angle (each angle's scan registered to the object on its own)."""
    if POSITION_CORRECTION in v:
        c = v[POSITION_CORRECTION]
        c.assign(c - tf.reduce_mean(c, axis=1, keepdims=True))


def _scan_estimate(v, positions_px) -> dict:
    """{"positions_px": the recorded positions plus the corrections, float64 (n_a, n_p, 2)} or {}."""
    if POSITION_CORRECTION not in v:
        return {}
    return {"positions_px": positions_px.astype(np.float64) + v[POSITION_CORRECTION].numpy()}


def detector_kernel(dataset, window, dtype=np.complex64) -> np.ndarray | None:
    """Near-field transfer function of the dataset's detector distance (None for far field/contact)."""
    geo = dataset.geometry
    if geo.detection == "far" or geo.distance_m == 0:
        return None
    lam = float(units.wavelength_m(geo.energy_kev))
    return angular_spectrum_kernel(window, geo.object_pixel_m, lam, geo.distance_m).astype(dtype)


def _position_constants(positions_px, window, object_shape, dtype, x_before_y=False, always_fractions=False):
    """Gather indices (n_a, n_p, w*w) and subpixel fractions (n_a, n_p, 2), or None if all are
    integer and not ``always_fractions`` (refined positions need them, even when zero).

    x_before_y: indices into the plane stored transposed, (n_x, n_y), still in window (w_y, w_x) order."""
    flat = positions_px.reshape(-1, 2)
    corners, fractions = split_positions(flat)
    if x_before_y:
        indices = patch_indices(corners[:, ::-1], window[::-1], object_shape[::-1])
        indices = indices.reshape((-1,) + window[::-1]).transpose(0, 2, 1)
    else:
        indices = patch_indices(corners, window, object_shape)
    indices = indices.reshape(positions_px.shape[:2] + (-1,))
    if not (always_fractions or np.any(fractions)):
        return tf.constant(indices), None
    return tf.constant(indices), tf.constant(fractions.reshape(positions_px.shape).astype(dtype))


def thin_model(dataset, probe_guess, *, refine_probe=True, support=None, refine_positions=False,
               dtype=np.float32) -> Model:
    """Thin-object model for 'cdi', 'ptycho-far' and 'ptycho-near'.

    The probe is stored divided by its RMS amplitude so that object and probe unknowns are O(1)
    and one learning rate suits both. refine_positions: scan-position corrections as unknowns
    (:func:`_scan_unknowns`); the estimate then adds "positions_px".
    """
    ctype = np.complex64 if dtype == np.float32 else np.complex128
    window = tuple(probe_guess.shape[-2:])
    n_oy, n_ox = dataset.object_shape
    indices, fractions = _position_constants(dataset.positions_px, window, dataset.object_shape, dtype,
                                             always_fractions=refine_positions)
    detect = _propagator(dataset, window, ctype)
    norm = _far_norm(dataset, window)
    scale = float(np.sqrt(np.mean(np.abs(probe_guess) ** 2) * probe_guess.shape[0]))
    variables = {
        "object_re": tf.Variable(np.ones((n_oy, n_ox), dtype), name="object_re"),
        "object_im": tf.Variable(np.zeros((n_oy, n_ox), dtype), name="object_im"),
        "probe_re": tf.Variable((probe_guess.real / scale).astype(dtype), name="probe_re"),
        "probe_im": tf.Variable((probe_guess.imag / scale).astype(dtype), name="probe_im"),
        **_scan_unknowns(dataset.positions_px, dtype, refine_positions),
    }
    mask = None if support is None else tf.constant(support.astype(dtype))

    def obj(v):
        o = tf.complex(v["object_re"], v["object_im"])
        return o if mask is None else o * tf.cast(mask, o.dtype)

    def forward(v, angle, positions):
        probe = tf.complex(v["probe_re"], v["probe_im"]) * tf.cast(scale * norm, ctype)
        patches = tf.gather(tf.reshape(obj(v), [-1]), tf.gather(tf.gather(indices, angle), positions))
        patches = tf.reshape(patches, (-1, 1) + window)
        wave, ramps = _shifted_probe(probe, _batch_shifts(fractions, v, angle, positions))
        return _mode_intensity(detect(wave * patches, ramps))

    def constrain(v):
        if mask is not None:
            v["object_re"].assign(v["object_re"] * mask)
            v["object_im"].assign(v["object_im"] * mask)
        _constrain_scan(v)

    def estimate(v):
        return {"object": obj(v).numpy().astype(np.complex64),
                "probe": (tf.complex(v["probe_re"], v["probe_im"]).numpy() * scale).astype(np.complex64),
                **_scan_estimate(v, dataset.positions_px)}

    trainable = (("object_re", "object_im") + (("probe_re", "probe_im") if refine_probe else ())
                 + ((POSITION_CORRECTION,) if refine_positions else ()))
    return Model(variables, forward, constrain, estimate, trainable, dataset.geometry.detection == "far")


def volume_model(dataset, probe_guess, volume_shape, *, refine_probe=False, projection=False,
                 refine_positions=False, dtype=np.float32) -> Model:
    """Multislice model for 'multislice', 'multislice-tomo' and 'fullfield-tomo'.

    Unknowns: phase and absorption per voxel (phi = k dz delta, a = k dz beta, both >= 0), shape
    volume_shape (n_z, n_y, n_x); one multislice step per voxel; the incident probe is defined at
    the first slice plane and the exit wave at the last, like the simulator. projection: sum the
    rotated volume along z into one slice (projection approximation) instead of multislice.
    refine_positions: as in :func:`thin_model`.
    """
    ctype = np.complex64 if dtype == np.float32 else np.complex128
    window = tuple(probe_guess.shape[-2:])
    n_z, n_y, n_x = volume_shape
    geo = dataset.geometry
    lam = float(units.wavelength_m(geo.energy_kev))
    slice_kernel = tf.constant(angular_spectrum_kernel(window, geo.object_pixel_m, lam, geo.object_pixel_m).astype(ctype))
    detect = _propagator(dataset, window, ctype)
    norm = _far_norm(dataset, window)
    rotating = bool(np.any(dataset.angles_rad != 0))
    indices, fractions = _position_constants(dataset.positions_px, window, (n_y, n_x), dtype, x_before_y=rotating,
                                             always_fractions=refine_positions)
    rotation = _rotation_constants(dataset.angles_rad, n_z, n_x, dtype) if rotating else []
    scale = float(np.sqrt(np.mean(np.abs(probe_guess) ** 2) * probe_guess.shape[0]))
    # a rotated volume is stored x before y, (n_z, n_x, n_y), the layout tfops.rotate gathers from;
    # the windows are gathered from that layout too (indices above), so it is never transposed
    axes = (0, 2, 1) if rotating else None
    stored_shape = (n_z, n_x, n_y) if rotating else volume_shape
    variables = {
        "phase": tf.Variable(np.zeros(stored_shape, dtype), name="phase"),
        "absorption": tf.Variable(np.zeros(stored_shape, dtype), name="absorption"),
        "probe_re": tf.Variable((probe_guess.real / scale).astype(dtype), name="probe_re"),
        "probe_im": tf.Variable((probe_guess.imag / scale).astype(dtype), name="probe_im"),
        **_scan_unknowns(dataset.positions_px, dtype, refine_positions),
    }

    def forward(v, angle, positions):
        phase, absorption = _rotated(v["phase"], v["absorption"], rotation, angle)
        if projection:
            phase = tf.reduce_sum(phase, axis=0, keepdims=True)
            absorption = tf.reduce_sum(absorption, axis=0, keepdims=True)
        trans = tf.exp(tf.complex(-absorption, -phase))
        slices = _slice_windows(trans, tf.gather(tf.gather(indices, angle), positions), n_y * n_x, window)
        probe = tf.complex(v["probe_re"], v["probe_im"]) * tf.cast(scale * norm, ctype)
        wave, ramps = _shifted_probe(probe, _batch_shifts(fractions, v, angle, positions))
        return _mode_intensity(detect(_multislice(wave, slices, slice_kernel), ramps))

    def constrain(v):
        v["phase"].assign(tf.maximum(v["phase"], 0))
        v["absorption"].assign(tf.maximum(v["absorption"], 0))
        _constrain_scan(v)

    def estimate(v):
        return {**_volume_estimate(v, units.wavenumber_per_m(geo.energy_kev) * geo.object_pixel_m, axes, scale),
                **_scan_estimate(v, dataset.positions_px)}

    trainable = (("phase", "absorption") + (("probe_re", "probe_im") if refine_probe else ())
                 + ((POSITION_CORRECTION,) if refine_positions else ()))
    return Model(variables, forward, constrain, estimate, trainable, dataset.geometry.detection == "far", axes)


def _rotation_constants(angles_rad, n_z: int, n_x: int, dtype) -> list[tf.Tensor]:
    """tfops.rotation_tables of every angle as constants: int32 indices, weights in ``dtype``."""
    return [tf.constant(t if t.dtype == np.int32 else t.astype(dtype)) for t in rotation_tables(angles_rad, n_z, n_x)]


def _rotated(phase, absorption, rotation, angle):
    """Phase and absorption volumes (stored x before y) rotated to ``angle``; unchanged without
    rotation tables (single angle)."""
    if not rotation:
        return phase, absorption
    # tf.gather, not [angle]: XLA needs slice bounds at compile time (one compile per angle)
    tables = [tf.gather(t, angle) for t in rotation]
    # one gather of rows twice as long instead of two: half the index work
    return tf.split(rotate(tf.concat([phase, absorption], axis=2), *tables), 2, axis=2)


def _slice_windows(trans, window_indices, plane_size: int, window: tuple[int, int]):
    """Each slice's transmission in each probe window: (n_slices, B, 1, w_y, w_x) from trans
    (n_slices, plane) and the batch's flat window indices (B, w_y w_x) into one plane.

    One flat index per voxel of each window, slice-major: gathering whole z columns instead
    (axis=1), XLA lays the result out z fastest, and each slice's multiply then reads one element
    per cache line."""
    windows = tf.reshape(window_indices, [-1])
    slice_offsets = tf.range(trans.shape[0]) * plane_size
    slices = tf.gather(tf.reshape(trans, [-1]), slice_offsets[:, None] + windows[None, :])
    return tf.reshape(slices, (slices.shape[0], -1, 1) + window)


def _multislice(wave, slices, slice_kernel):
    """Exit waves (B, m, w_y, w_x): transmit through the first slice, then propagate one slice
    (angular spectrum, unshifted FFT order) and transmit, for each further slice."""
    for j, t in enumerate(tf.unstack(slices)):
        wave = wave * t if j == 0 else tf.signal.ifft2d(tf.signal.fft2d(wave) * slice_kernel) * t
    return wave


def _mode_intensity(far):
    """Detected intensity (B, n_y, n_x) of waves (B, m, n_y, n_x): incoherent sum over the modes."""
    return tf.reduce_sum(tf.math.real(far) ** 2 + tf.math.imag(far) ** 2, axis=1)


def _volume_estimate(v, k_dz: float, axes, scale: float) -> dict:
    """delta, beta float32 (n_z, n_y, n_x) and the probe complex64 (m, w_y, w_x) of the variables."""
    physical = {k: v[k].numpy() if axes is None else np.transpose(v[k].numpy(), np.argsort(axes))
                for k in ("phase", "absorption")}
    return {"delta": (physical["phase"] / k_dz).astype(np.float32),
            "beta": (physical["absorption"] / k_dz).astype(np.float32),
            "probe": (tf.complex(v["probe_re"], v["probe_im"]).numpy() * scale).astype(np.complex64)}
