"""The one table of experiment kinds and their traits.

A kind names what an experiment measures and how it is scored. Every module asks this table
(``kind(name).thin``, ``.scanned``, ``.angles``...) instead of testing the kind's name, so a new
kind is one entry here plus its simulator and its solvers.

``Dataset.kind`` and ``DatasetSpec.kind`` stay plain strings (they are written to CXI files and
records); :func:`kind` turns one into its :class:`Kind`.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLES = ("thin", "volume", "crystal")
ANGLES = ("none", "tomography", "rocking")
DETECTIONS = ("far", "near")


@dataclass(frozen=True)
class Kind:
    """Traits of one experiment kind.

    sample: what is reconstructed and scored: "thin" (a complex transmission (n_y, n_x), scored
        against ``truth.object``), "volume" (delta and beta (n_z, n_y, n_x), scored against
        ``truth.delta`` / ``truth.beta``) or "crystal" (the complex Bragg density (n_z, n_y, n_x),
        scored against ``truth.object`` by its strain phase).
    angles: "none" (one angle), "tomography" (rotations about y) or "rocking" (Bragg rocking curve).
    detection: the detections the kind allows, in a spec and in a dataset alike.
    scanned: a ptychographic scan (many positions per angle); False: one frame per angle (CDI,
        full field) with a single coherent illumination mode.
    twin: the twin-image ambiguity of single-pattern CDI (the conjugate, rotated 180 degrees,
        explains the data equally): alignment tries it and fits no amplitude scale.
    support: the object lies inside a known support (single-pattern CDI): the simulator draws it,
        the dataset carries it, and only the exit wave inside it reaches the detector.
    figure: the figure family that shows a reconstruction: "object", "volume" or "crystal".
    scoring: the score family of cdibench.metrics.evaluate: "object" (aligned complex object and FRC
        in the illuminated region), "volume" (delta or beta and FSC in the measured volume) or
        "crystal" (strain phase in the lit support, no resolution curve).
    truth_fields: the ``truth`` (and Reconstruction) fields the scores compare.
    metrics_bytes: (fixed, per truth element) resident-set growth of one metrics evaluation
        (alignment, NRMSE, SSIM), measured; the memory estimate (cdibench.harness.memory) adds it.
        Thin kinds from whole numpy runs at two sizes, minus their counted arrays: cdi (HIO, 64^2
        and 256^2: 4.5 and 37.5 MiB; 4 alignment candidates, twin x shift or not, in complex128),
        ptycho (ePIE, 112^2 and 324^2: 8.3 and 54.5 MiB). Volume kinds at one size (quick suite,
        estimate = 0.9 x truth): per element only.
    """

    name: str
    description: str
    sample: str
    angles: str
    detection: tuple[str, ...]
    scanned: bool
    twin: bool = False
    support: bool = False
    metrics_bytes: tuple[int, int] = (0, 0)

    def __post_init__(self):
        if self.sample not in SAMPLES or self.angles not in ANGLES or not set(self.detection) <= set(DETECTIONS):
            raise ValueError(f"kind {self.name!r}: sample, angles or detection outside {SAMPLES}, {ANGLES}, "
                             f"{DETECTIONS}")

    @property
    def thin(self) -> bool:
        return self.sample == "thin"

    @property
    def truth_is_volume(self) -> bool:
        """The ground truth is (n_z, n_y, n_x): volume and crystal kinds."""
        return self.sample != "thin"

    @property
    def multi_angle(self) -> bool:
        return self.angles != "none"

    @property
    def tomography(self) -> bool:
        return self.angles == "tomography"

    @property
    def crystal(self) -> bool:
        """A crystal in Bragg geometry: 2theta, rocking angles, probe-centre offsets, a 3D complex truth."""
        return self.sample == "crystal"

    @property
    def figure(self) -> str:
        return {"thin": "object", "volume": "volume", "crystal": "crystal"}[self.sample]

    @property
    def scoring(self) -> str:
        return {"thin": "object", "volume": "volume", "crystal": "crystal"}[self.sample]

    @property
    def truth_fields(self) -> tuple[str, ...]:
        return ("delta", "beta") if self.sample == "volume" else ("object",)

    def allows(self, detection: str) -> bool:
        return detection in self.detection


_MIB = 2**20

_TABLE = (
    Kind("cdi", "far-field coherent diffractive imaging: one pattern, known support",
         "thin", "none", ("far",), scanned=False, twin=True, support=True, metrics_bytes=(int(2.3 * _MIB), 563)),
    Kind("ptycho-far", "far-field ptychography of a thin object", "thin", "none", ("far",), scanned=True,
         metrics_bytes=(2 * _MIB, 524)),
    Kind("ptycho-near", "near-field (Fresnel) ptychography of a thin object", "thin", "none", ("near",),
         scanned=True, metrics_bytes=(2 * _MIB, 524)),
    Kind("multislice", "single-angle ptychography of a thick object (multislice)", "volume", "none",
         ("far",), scanned=True, metrics_bytes=(0, 52)),
    Kind("multislice-tomo", "multi-angle multislice ptychography: 3D beyond the depth of focus", "volume",
         "tomography", ("far",), scanned=True, metrics_bytes=(0, 52)),
    Kind("fullfield-tomo", "full-field (projection or near-field) tomography", "volume", "tomography",
         ("near",), scanned=False, metrics_bytes=(0, 138)),
    Kind("bragg", "multi-angle Bragg ptychography of a strained crystal", "crystal", "rocking", ("far",),
         scanned=True, metrics_bytes=(0, 2080)),
)

KINDS: dict[str, Kind] = {k.name: k for k in _TABLE}
NAMES: tuple[str, ...] = tuple(KINDS)


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name``; a ValueError naming the field for any other value."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"kind = {name!r} is unknown: expected one of {', '.join(NAMES)}") from None
