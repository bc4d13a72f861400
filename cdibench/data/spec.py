"""DatasetSpec: every knob of a simulated experiment, loaded from TOML; unknown keys are errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cdibench import units
from cdibench.config import from_mapping, require, to_mapping
from cdibench.data.dataset import fresnel_scaling
from cdibench.kinds import NAMES, kind
from cdibench.phantoms.registry import phantom_config
from cdibench.physics import bragg as bragg_physics
from cdibench.physics.coherence import CoherenceConfig
from cdibench.physics.detector import DetectorConfig
from cdibench.physics.noise import NoiseConfig
from cdibench.physics.probes import ProbeConfig
from cdibench.physics.scans import ScanConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class GeometryConfig:
    """Detector and sampling; give exactly one of detector_pixel_m and object_pixel_m.

    Far field: the object pixel is lambda z / (N p) (or the detector pixel follows from it).
    Near field: distance_m (sample to detector) may be 0 (contact). focus_to_sample_m: a cone beam
    diverging from a focus z1 before the sample (absent: a plane wave), near field only: the
    Fresnel scaling theorem (cdibench.data.dataset.fresnel_scaling) gives magnification
    M = (z1 + z2) / z1 with z2 = distance_m, and the models use the effective distance z2 / M and
    object pixel = detector pixel / M (M = 1 for a plane wave). Photons per detector pixel equal
    photons per effective object pixel (the 1 / M^2 dilution of the intensity is undone by the
    M^2 larger pixel), so noise.photons_per_frame stays what the detector counts."""

    energy_kev: float
    distance_m: float
    pattern_px: int
    detection: str = "far"
    detector_pixel_m: float | None = None
    object_pixel_m: float | None = None
    focus_to_sample_m: float | None = None

    def __post_init__(self):
        require(0 < self.energy_kev < math.inf, "geometry.energy_kev", self.energy_kev,
                "a finite photon energy > 0 keV")
        require(self.detection in ("far", "near"), "geometry.detection", self.detection, "'far' or 'near'")
        near = self.detection == "near"
        require(0 < self.distance_m < math.inf or (near and self.distance_m == 0), "geometry.distance_m",
                self.distance_m, "> 0 m (>= 0 for near field)")
        require(self.pattern_px >= 8 and self.pattern_px % 2 == 0, "geometry.pattern_px",
                self.pattern_px, "an even number of pixels >= 8")
        given = [p for p in ("detector_pixel_m", "object_pixel_m") if getattr(self, p) is not None]
        require(len(given) == 1, "geometry.detector_pixel_m", self.detector_pixel_m,
                f"exactly one of detector_pixel_m / object_pixel_m (object_pixel_m = {self.object_pixel_m!r})")
        for name in given:
            require(0 < getattr(self, name) < math.inf, f"geometry.{name}", getattr(self, name),
                    "a finite size > 0 m")
        if self.focus_to_sample_m is not None:
            require(near, "geometry.focus_to_sample_m", self.focus_to_sample_m,
                    "no value for far-field detection (a cone beam is near field)")
            require(0 < self.focus_to_sample_m < math.inf, "geometry.focus_to_sample_m",
                    self.focus_to_sample_m, "a finite distance > 0 m (omit the key for a plane wave)")
            require(self.distance_m > 0, "geometry.distance_m", self.distance_m,
                    "> 0 m for a cone beam (geometry.focus_to_sample_m given)")

    @property
    def magnification(self) -> float:
        """Near-field cone beam: (z1 + z2) / z1; 1 otherwise."""
        if self.focus_to_sample_m is None:
            return 1.0
        return fresnel_scaling(self.focus_to_sample_m, self.distance_m)[0]

    @property
    def effective_distance_m(self) -> float:
        """The propagation distance the forward models use [m]: z2 / M of a cone beam, else distance_m."""
        if self.focus_to_sample_m is None:
            return self.distance_m
        return fresnel_scaling(self.focus_to_sample_m, self.distance_m)[1]

    @property
    def object_pixel(self) -> float:
        """Object-plane pixel [m] (a cone beam's effective one, detector pixel / M)."""
        if self.object_pixel_m is not None:
            return self.object_pixel_m
        if self.detection == "near":
            return self.detector_pixel_m / self.magnification
        return float(units.farfield_pixel_size_m(self.energy_kev, self.distance_m,
                                                 self.detector_pixel_m, self.pattern_px))

    @property
    def detector_pixel(self) -> float:
        """Detector pixel [m]."""
        if self.detector_pixel_m is not None:
            return self.detector_pixel_m
        if self.detection == "near":
            return self.object_pixel_m * self.magnification
        return float(units.farfield_pixel_size_m(self.energy_kev, self.distance_m,
                                                 self.object_pixel_m, self.pattern_px))


@dataclass(frozen=True)
class PhantomSpec:
    """type: a name in cdibench.phantoms.PHANTOMS; shape_px (n_z, n_y, n_x) at the reconstruction
    voxel (= object pixel); params: the type's own keys, checked by its config class."""

    type: str
    shape_px: tuple[int, int, int]
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        phantom_config(self.type, self.params)  # fail at load time, naming the key


@dataclass(frozen=True)
class TomographyConfig:
    """Rotation about y: n_angles equally spaced over [0, range_deg)."""

    n_angles: int = 1
    range_deg: float = 180.0

    def __post_init__(self):
        require(self.n_angles >= 1, "tomography.n_angles", self.n_angles, ">= 1")
        require(0 < self.range_deg <= 360, "tomography.range_deg", self.range_deg, "in (0, 360]")


@dataclass(frozen=True)
class CdiConfig:
    """Far-field CDI of an isolated object: exit wave = support * transmission.

    support_shape: "triangle" (not centrosymmetric, so the twin image is distinguishable), "disk"
    or "square"; support_fraction: support extent / field (oversampling per axis = 1 / fraction)."""

    support_shape: str = "triangle"
    support_fraction: float = 0.45

    def __post_init__(self):
        require(self.support_shape in ("triangle", "disk", "square"), "cdi.support_shape",
                self.support_shape, "'triangle', 'disk' or 'square'")
        require(0 < self.support_fraction <= 0.5, "cdi.support_fraction", self.support_fraction,
                "in (0, 0.5] (oversampling >= 2 per axis)")


@dataclass(frozen=True)
class BraggConfig:
    """Bragg geometry of kind 'bragg' (frame and conventions: cdibench.physics.bragg).

    Exactly one of d_spacing_m (the reflection's lattice-plane spacing [m]; 2theta from Bragg's law
    at geometry.energy_kev) and two_theta_deg (the scattering angle [deg]). The rocking scan:
    n_rocking sample angles dtheta equally spaced over [-rocking_range_deg / 2, +rocking_range_deg / 2]
    about the Bragg condition (n_rocking = 1: dtheta = 0 only, single-angle Bragg ptychography).
    """

    d_spacing_m: float | None = None
    two_theta_deg: float | None = None
    rocking_range_deg: float = 0.0
    n_rocking: int = 1

    def __post_init__(self):
        require((self.d_spacing_m is None) != (self.two_theta_deg is None), "bragg.d_spacing_m",
                self.d_spacing_m, f"exactly one of bragg.d_spacing_m, bragg.two_theta_deg "
                f"(bragg.two_theta_deg = {self.two_theta_deg!r})")
        if self.d_spacing_m is not None:
            require(0 < self.d_spacing_m < 1e-6, "bragg.d_spacing_m", self.d_spacing_m, "a spacing in (0, 1e-6) m")
        if self.two_theta_deg is not None:
            require(0 < self.two_theta_deg < 180, "bragg.two_theta_deg", self.two_theta_deg, "an angle in (0, 180) deg")
        require(self.n_rocking >= 1, "bragg.n_rocking", self.n_rocking, ">= 1")
        require(0 <= self.rocking_range_deg <= 10 and (self.rocking_range_deg > 0) == (self.n_rocking > 1),
                "bragg.rocking_range_deg", self.rocking_range_deg,
                "in (0, 10] deg with n_rocking > 1, 0 with n_rocking = 1")

    def two_theta_rad(self, energy_kev: float) -> float:
        if self.two_theta_deg is not None:
            return float(math.radians(self.two_theta_deg))
        try:
            return bragg_physics.two_theta_rad(energy_kev, self.d_spacing_m)
        except ValueError as exc:
            raise ValueError(f"bragg.{exc}") from None

    def rocking_angles_rad(self):
        """dtheta of each rocking step [rad], float64 (n_rocking,)."""
        half = math.radians(self.rocking_range_deg) / 2
        return np.linspace(-half, half, self.n_rocking) if self.n_rocking > 1 else np.zeros(1)


def _check_bragg(spec) -> None:
    """Kind 'bragg' needs a [bragg] table, a crystal phantom whose (n_y, n_x) is the detector field."""
    require(spec.bragg is not None, "bragg", None, "a [bragg] table for kind 'bragg'")
    require(kind(spec.kind).crystal, "bragg", "(table)", f"no [bragg] table for kind {spec.kind!r}")
    spec.bragg.two_theta_rad(spec.geometry.energy_kev)
    require(spec.phantom.type == "crystal", "phantom.type", spec.phantom.type, "'crystal' for kind 'bragg'")
    n = spec.geometry.pattern_px
    require(tuple(spec.phantom.shape_px[1:]) == (n, n), "phantom.shape_px", list(spec.phantom.shape_px),
            f"[n_z, {n}, {n}] (kind 'bragg': the grid's cross-section is the detector field, geometry.pattern_px)")


@dataclass(frozen=True)
class ErrorsConfig:
    """Experimental errors the solvers do not know: true positions = recorded + jitter."""

    position_jitter_rms_px: float = 0.0

    def __post_init__(self):
        require(self.position_jitter_rms_px >= 0, "errors.position_jitter_rms_px",
                self.position_jitter_rms_px, ">= 0")


@dataclass(frozen=True)
class SimulationConfig:
    """How much finer than the reconstruction grid the simulator works (against the inverse crime).

    grid_upsample: lateral (and, for volumes, axial) voxel refinement; slices_per_voxel: extra
    multislice steps per voxel; rotation_order: spline order of the volume rotation;
    pad_px: vacuum padding of full-field simulations against FFT wrap-around;
    projection_approximation: collapse the (rotated) volume into one slice before propagation,
    i.e. no diffraction inside the sample: the thin control of a thick-sample comparison."""

    grid_upsample: int = 1
    slices_per_voxel: int = 1
    rotation_order: int = 3
    pad_px: int = 0
    projection_approximation: bool = False

    def __post_init__(self):
        for name in ("grid_upsample", "slices_per_voxel"):
            require(1 <= getattr(self, name) <= 8, f"simulation.{name}", getattr(self, name), "in 1..8")
        require(self.rotation_order in range(6), "simulation.rotation_order", self.rotation_order, "0..5")
        require(self.pad_px >= 0, "simulation.pad_px", self.pad_px, ">= 0")


@dataclass(frozen=True)
class DatasetSpec:
    """One experiment; ``from_toml`` / ``load_spec`` build it, ``to_toml`` writes it back."""

    name: str
    kind: str
    geometry: GeometryConfig
    phantom: PhantomSpec
    seed: int = 0
    description: str = ""
    probe: ProbeConfig = ProbeConfig()
    scan: ScanConfig = ScanConfig(type="single")
    tomography: TomographyConfig = TomographyConfig()
    cdi: CdiConfig = CdiConfig()
    noise: NoiseConfig = NoiseConfig()
    coherence: CoherenceConfig = CoherenceConfig()
    detector: DetectorConfig = DetectorConfig()
    errors: ErrorsConfig = ErrorsConfig()
    simulation: SimulationConfig = SimulationConfig()
    bragg: BraggConfig | None = None

    def __post_init__(self):
        require(self.kind in NAMES, "kind", self.kind, f"one of {', '.join(NAMES)}")
        traits = kind(self.kind)
        require(self.seed >= 0, "seed", self.seed, "an integer >= 0")
        require(len(self.phantom.shape_px) == 3 and min(self.phantom.shape_px) >= 1,
                "phantom.shape_px", self.phantom.shape_px, "(n_z, n_y, n_x) with positive sizes")
        far = self.geometry.detection == "far"
        require(self.geometry.focus_to_sample_m is None or traits.allows("near"), "geometry.focus_to_sample_m",
                self.geometry.focus_to_sample_m, f"no value for kind {self.kind!r}, whose detection is "
                f"{' or '.join(traits.detection)} (a cone beam is near field)")
        require(traits.allows(self.geometry.detection), "geometry.detection", self.geometry.detection,
                f"the detection of kind {self.kind!r}")
        require(self.tomography.n_angles == 1 or traits.tomography,
                "tomography.n_angles", self.tomography.n_angles, f"1 for kind {self.kind!r}")
        require(self.detector.binning == 1 or far, "detector.binning", self.detector.binning,
                "1 for near-field detection (use simulation.grid_upsample)")
        if traits.crystal or self.bragg is not None:
            _check_bragg(self)

    def with_seed(self, seed: int) -> "DatasetSpec":
        return dataclasses.replace(self, seed=seed)

    def to_mapping(self) -> dict:
        out = to_mapping(self)
        params = out["phantom"].pop("params")
        out["phantom"].update(params)
        return out

    def to_toml(self) -> str:
        return dumps_toml(self.to_mapping())

    def hash(self) -> str:
        """Content hash of the spec (seed included), for dataset caching."""
        text = json.dumps(self.to_mapping(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_SECTIONS = {"probe": ProbeConfig, "scan": ScanConfig, "tomography": TomographyConfig,
             "cdi": CdiConfig, "noise": NoiseConfig, "coherence": CoherenceConfig,
             "detector": DetectorConfig, "errors": ErrorsConfig, "simulation": SimulationConfig,
             "geometry": GeometryConfig, "bragg": BraggConfig}


def spec_from_mapping(data: dict) -> DatasetSpec:
    """Build a DatasetSpec from a parsed TOML document; every error names its key."""
    data = dict(data)
    known = {f.name for f in dataclasses.fields(DatasetSpec)}
    unknown = sorted(set(data) - known)
    require(not unknown, unknown[0] if unknown else "", "(unknown key)",
            f"one of: {', '.join(sorted(known))}")
    for key in ("name", "kind", "geometry", "phantom"):
        require(key in data, key, None, "a value (missing key)")
    phantom = dict(data.pop("phantom"))
    require("type" in phantom and "shape_px" in phantom, "phantom.type", phantom.get("type"),
            "phantom.type and phantom.shape_px")
    kwargs = {name: from_mapping(cls, data.pop(name), name) for name, cls in _SECTIONS.items()
              if name in data}
    shape = phantom.pop("shape_px")
    require(isinstance(shape, list) and len(shape) == 3 and all(isinstance(s, int) for s in shape),
            "phantom.shape_px", shape, "[n_z, n_y, n_x] integers")
    kwargs["phantom"] = PhantomSpec(type=phantom.pop("type"), shape_px=tuple(shape), params=phantom)
    for name in ("name", "kind", "description"):
        if name in data:
            require(isinstance(data[name], str), name, data[name], "a string")
    if "seed" in data:
        require(isinstance(data["seed"], int) and not isinstance(data["seed"], bool), "seed",
                data["seed"], "an integer")
    return DatasetSpec(**data, **kwargs)


def spec_from_toml(text: str) -> DatasetSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"spec is not valid TOML: {exc}") from None
    return spec_from_mapping(data)


def load_spec(path: str | Path) -> DatasetSpec:
    """Read a TOML spec file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"spec file {str(path)!r} does not exist")
    try:
        return spec_from_toml(path.read_text())
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):  # a TOML basic string: JSON's escapes minus surrogate pairs, plus DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def dumps_toml(data: dict) -> str:
    """Minimal TOML writer for specs (scalars, lists, one level of tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def sample_depth_px(dataset, n_slices: int = 0) -> int:
    """Slices of a reconstruction volume: ``n_slices`` if given, else the sample depth stated in the
    dataset's spec (the experimenter's knowledge of the thickness), else as many as columns."""
    if n_slices:
        return n_slices
    if dataset.spec_toml:
        return int(tomllib.loads(dataset.spec_toml)["phantom"]["shape_px"][0])
    return dataset.object_shape[1]
