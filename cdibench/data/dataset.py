"""The Dataset type: what a simulated (or measured) experiment hands to every solver."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def fresnel_scaling(focus_to_sample_m: float, sample_to_detector_m: float) -> tuple[float, float]:
    """A cone beam as its equivalent plane wave (the Fresnel scaling theorem).

    A beam diverging from a focus z1 = ``focus_to_sample_m`` before the sample, detected
    z2 = ``sample_to_detector_m`` behind it, gives on the detector the plane-wave intensity of
    the same exit wave (the illumination without its spherical phase exp(i k r^2 / (2 z1)))
    propagated over z2 / M, magnified by M = (z1 + z2) / z1. Returns (M, z2 / M [m])."""
    z1, z2 = float(focus_to_sample_m), float(sample_to_detector_m)
    return (z1 + z2) / z1, z1 * z2 / (z1 + z2)


@dataclass(frozen=True)
class Geometry:
    """Experiment geometry, SI units.

    detection: "far" (Fraunhofer, centred unitary FFT) or "near" (angular spectrum over distance_m).
    object_pixel_m: sampling of the object/probe plane [m]; detector_pixel_m: detector pixel [m]
    (for far field lambda z / (N object_pixel_m); for near field magnification x object_pixel_m).
    two_theta_rad: the scattering angle 2theta of kind "bragg" [rad] (frame: cdibench.physics.bragg;
    the voxel is a cube of edge object_pixel_m); 0 for every other kind.
    focus_to_sample_m, sample_to_detector_m: a near-field cone beam's physical distances z1 (focus
    to sample) and z2 (sample to detector) [m]; both 0 for a plane wave. A cone beam's distance_m
    and object_pixel_m are the EFFECTIVE ones of its equivalent plane wave (:func:`fresnel_scaling`:
    z2 / M and detector_pixel_m / M), which the models use.
    """

    energy_kev: float
    distance_m: float
    detector_pixel_m: float
    object_pixel_m: float
    detection: str = "far"
    two_theta_rad: float = 0.0
    focus_to_sample_m: float = 0.0
    sample_to_detector_m: float = 0.0

    @property
    def cone(self) -> bool:
        """A divergent (cone) beam from a focus before the sample; False: a plane wave."""
        return self.focus_to_sample_m != 0

    @property
    def magnification(self) -> float:
        """(z1 + z2) / z1 of a cone beam, 1 for a plane wave."""
        return fresnel_scaling(self.focus_to_sample_m, self.sample_to_detector_m)[0] if self.cone else 1.0

    @property
    def detector_distance_m(self) -> float:
        """Physical sample-to-detector distance [m] (CXI detector_1/distance)."""
        return self.sample_to_detector_m if self.cone else self.distance_m

    def __post_init__(self):
        for name in ("energy_kev", "detector_pixel_m", "object_pixel_m"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"geometry.{name} must be finite and > 0, got {value!r}")
        if not (np.isfinite(self.distance_m) and self.distance_m >= 0) or (
                self.detection == "far" and self.distance_m == 0):
            raise ValueError(f"geometry.distance_m must be > 0 (>= 0 for near field), got {self.distance_m!r}")
        if not (np.isfinite(self.two_theta_rad) and 0 <= self.two_theta_rad < np.pi):
            raise ValueError(f"geometry.two_theta_rad must be in [0, pi), got {self.two_theta_rad!r}")
        if self.detection not in ("far", "near"):
            raise ValueError(f"geometry.detection must be 'far' or 'near', got {self.detection!r}")
        if self.cone or self.sample_to_detector_m != 0:
            self._check_cone()

    def _check_cone(self) -> None:
        """A cone beam: near field, both distances > 0, the effective distance and pixel derived."""
        if self.detection != "near":
            raise ValueError(f"geometry.focus_to_sample_m must be 0 (a plane wave) for far-field "
                             f"detection: a cone beam is near field; got {self.focus_to_sample_m!r}")
        for name in ("focus_to_sample_m", "sample_to_detector_m"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"geometry.{name} must be finite and > 0 for a cone beam, got {value!r}")
        m, distance_m = fresnel_scaling(self.focus_to_sample_m, self.sample_to_detector_m)
        for name, expected in (("distance_m", distance_m), ("object_pixel_m", self.detector_pixel_m / m)):
            if not np.isclose(getattr(self, name), expected, rtol=1e-9, atol=0):
                raise ValueError(f"geometry.{name} must be the cone beam's effective value {expected!r} "
                                 f"(magnification {m:.6g}), got {getattr(self, name)!r}")


@dataclass(frozen=True)
class GroundTruth:
    """What the simulator knows and a solver must not see.

    delta, beta: float32 (n_z, n_y, n_x) at the reconstruction voxel size (block-averaged from any
    finer simulation grid). object: complex64 (n_y, n_x), the thin-object (projection) transmission,
    or for CDI the exit wave support * transmission; for kind "bragg" complex64 (n_z, n_y, n_x), the
    crystal rho = A exp(i G . u) (block mean of the simulation grid's). probe: complex64 (n_modes, n_y, n_x), true
    probe modes (sum of |mode|^2 is the mean intensity). positions_px: float64 (n_angles, n_pos, 2),
    true (row, col) positions. flux_scale: float64 (n_angles, n_pos), the true per-frame incident
    flux factors (mean 1), or None when the flux did not fluctuate (every factor 1).
    """

    delta: np.ndarray
    beta: np.ndarray
    voxel_size_m: float
    object: np.ndarray
    probe: np.ndarray
    positions_px: np.ndarray
    flux_scale: np.ndarray | None = None


@dataclass(frozen=True)
class Dataset:
    """One experiment.

    intensities: float32 (n_angles, n_positions, n_y, n_x), photons, zero frequency at
        (n_y // 2, n_x // 2) for far field (not FFT-shifted).
    positions_px: float64 (n_angles, n_positions, 2), recorded (row, col) of the top-left corner of
        the probe window on the object array, in object pixels (subpixel allowed). Kind "bragg": the
        window and the object array are both the pattern-sized (n_y, n_x) field, so this is the
        probe centre's offset (y, a) from the field centre in the probe's own plane.
    probe_guess: complex64 (n_modes, n_y, n_x), in object-plane sampling.
    mask: uint32 (n_y, n_x) or intensities' shape; 0 = good pixel, CXI bit flags otherwise.
    angles_rad: float64 (n_angles,), tomographic rotation about the y axis; for kind "bragg" the
        rocking angles dtheta about the Bragg condition (cdibench.physics.bragg).
    object_shape: (n_y, n_x) of the object array the positions refer to.
    support: bool (n_y, n_x) known support (CDI) or None.
    truth: ground truth or None (measured data).
    spec_toml: the DatasetSpec that made it ("" for external data); seed: its seed.
    provenance: versions, commit, host (plain JSON-able dict).
    """

    kind: str
    intensities: np.ndarray
    positions_px: np.ndarray
    probe_guess: np.ndarray
    mask: np.ndarray
    geometry: Geometry
    angles_rad: np.ndarray
    object_shape: tuple[int, int]
    support: np.ndarray | None = None
    truth: GroundTruth | None = None
    spec_toml: str = ""
    seed: int | None = None
    provenance: dict = field(default_factory=dict, compare=False)

    @property
    def n_angles(self) -> int:
        return self.intensities.shape[0]

    @property
    def n_positions(self) -> int:
        return self.intensities.shape[1]

    @property
    def pattern_shape(self) -> tuple[int, int]:
        return tuple(self.intensities.shape[-2:])
