"""The solver registry: name -> (kinds it handles, config class, defaults, run function).

Adapters convert a Dataset into the plain arrays of the numpy baselines or hand it to the
TensorFlow AD solvers (imported only when an AD solver runs). Each returns a Reconstruction whose
history has the loss, the wall time and, every ``metrics_every`` iterations, the metrics against
the ground truth (not timed).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cdibench import units
from cdibench.ad.bragg_config import BraggFitConfig
from cdibench.ad.config import FitConfig, VolumeFitConfig
from cdibench.config import from_mapping, require
from cdibench.metrics.evaluate import fit_depth, metric_function
from cdibench.peers.cdtools_adapter import CdtoolsConfig
from cdibench.peers.ptychi_adapter import PtychiDmConfig, PtychiEpieConfig, PtychiLsqmlConfig
from cdibench.harness.provenance import provenance
from cdibench.data.reconstruction import Reconstruction, Recorder
from cdibench.data.spec import sample_depth_px
from cdibench.data.validate import validate_dataset


@dataclass(frozen=True)
class HioConfig:
    """Alternating HIO/ER cycles (er_iter = 0: pure HIO); ``iterations`` counts both kinds."""

    iterations: int = 200
    hio_iter: int = 40
    er_iter: int = 10
    beta: float = 0.9
    shrinkwrap_every: int = 0
    metrics_every: int = 10
    seed: int = 0

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")
        require(self.hio_iter + self.er_iter > 0, "hio_iter", self.hio_iter, "hio_iter + er_iter > 0")


@dataclass(frozen=True)
class ErConfig:
    iterations: int = 200
    metrics_every: int = 10
    seed: int = 0


@dataclass(frozen=True)
class PieConfig:
    """ePIE/rPIE sweeps; alpha, beta: object and probe step sizes."""

    iterations: int = 100
    alpha: float = 1.0
    beta: float = 1.0
    update_probe_after: int = 0
    metrics_every: int = 10
    seed: int = 0


@dataclass(frozen=True)
class FbpConfig:
    filter: str = "ram-lak"


@dataclass(frozen=True)
class PtychoFbpConfig:
    """Per-angle ePIE sweeps, then FBP of the unwrapped phase and log-amplitude.

    refocus_fraction: propagate each reconstructed object by this fraction of the distance from the
    probe's reference plane (the sample's entrance face, where the dataset's probe is defined) to
    the rotation centre, n_slices // 2 voxels downstream (REGIMES.md: refocusing to the centre is
    essential for a fair conventional baseline); 0: no refocus. Probe refinement can move the
    plane ePIE reconstructs, so the best value may differ: sweep it for a best-case baseline.
    """

    iterations: int = 50
    alpha: float = 1.0
    beta: float = 1.0
    update_probe_after: int = 0
    filter: str = "ram-lak"
    refocus_fraction: float = 1.0
    n_slices: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SolverInfo:
    kinds: tuple[str, ...]
    config: type
    run: Callable
    defaults: dict = field(default_factory=dict)
    description: str = ""
    #: (module, pyproject extra) of an optional backend the solver imports when it runs
    requires: tuple[str, str] | None = None


def _history_callback(recorder: Recorder, key: str = "error"):
    def callback(n, state):
        return recorder.record(n + 1, state[key], lambda: state)
    return callback


def _result(name, config, recorder, **arrays) -> Reconstruction:
    return Reconstruction(solver=name, config=asdict(config), history=recorder.history(),
                          provenance=provenance(seed=getattr(config, "seed", None)), **arrays)


def _cdi_object(ds, exit_wave: np.ndarray) -> np.ndarray:
    """Exit wave -> object: divide by the known plane-wave illumination (the probe of a CDI dataset)."""
    return (exit_wave * ds.support / ds.probe_guess[0]).astype(np.complex64)


def _cdi_callback(ds, recorder: Recorder, iterations: int):
    def callback(n, state):
        stop = recorder.record(n + 1, state["error"], lambda: {"object": _cdi_object(ds, state["object"])})
        return stop or n + 1 >= iterations
    return callback


def _run_hio(name, ds, config: HioConfig, recorder, device=None):
    from baselines import hio_er
    per_cycle = config.hio_iter + config.er_iter
    out = hio_er(np.sqrt(ds.intensities[0, 0]), ds.support, math.ceil(config.iterations / per_cycle),
                 config.hio_iter, config.er_iter, config.beta, shrinkwrap_every=config.shrinkwrap_every,
                 mask=ds.mask if ds.mask.ndim == 2 else ds.mask[0, 0], rng=config.seed,
                 callback=_cdi_callback(ds, recorder, config.iterations))
    return _result(name, config, recorder, object=_cdi_object(ds, out["object"]))


def _run_er(name, ds, config: ErConfig, recorder, device=None):
    from baselines import er
    x, _ = er(np.sqrt(ds.intensities[0, 0]), ds.support, config.iterations,
              mask=ds.mask if ds.mask.ndim == 2 else ds.mask[0, 0], rng=config.seed,
              callback=_cdi_callback(ds, recorder, config.iterations))
    return _result(name, config, recorder, object=_cdi_object(ds, x))


def _run_pie(name, ds, config: PieConfig, recorder, device=None):
    import baselines
    engine = baselines.rpie if name == "rpie" else baselines.epie
    mask = ds.mask if ds.mask.ndim == 2 else ds.mask[0]
    out = engine(ds.intensities[0], ds.positions_px[0], ds.probe_guess, ds.object_shape, config.iterations,
                 alpha=config.alpha, beta=config.beta, mask=mask, rng=config.seed,
                 update_probe_after=config.update_probe_after, callback=_history_callback(recorder))
    return _result(name, config, recorder, object=out["object"], probe=out["probe"])


def _run_fbp(name, ds, config: FbpConfig, recorder, device=None):
    from baselines import fbp
    flat = np.abs(ds.probe_guess[0]) ** 2
    k_dz = units.wavenumber_per_m(ds.geometry.energy_kev) * ds.geometry.object_pixel_m
    frames = np.maximum(ds.intensities[:, 0], 0.5)  # zero counts: -log undefined; half a photon
    projected_beta = -np.log(frames / flat) / (2 * k_dz)  # |t|^2 = exp(-2 k dz sum beta)
    beta = fbp(projected_beta, ds.angles_rad, filter=config.filter)
    recorder.record(1, 0.0)
    return _result(name, config, recorder, beta=fit_depth(beta.astype(np.float32), sample_depth_px(ds)))


def _side_vacuum(ds) -> np.ndarray:
    """Vacuum reference of the conventional pipeline: the left and right edges of the scanned
    field. A tomographic sample spans the rotation axis (y), so only the x edges are vacuum."""
    from baselines import illuminated_rim
    rim = illuminated_rim(ds.probe_guess, ds.positions_px[0], ds.object_shape)
    cols = np.flatnonzero(rim.any(axis=0))
    side = np.zeros(ds.object_shape[1], bool)
    side[: cols[0] + 3] = side[cols[-1] - 2:] = True
    return rim & side[None, :]


def _run_ptycho_fbp(name, ds, config: PtychoFbpConfig, recorder, device=None):
    from baselines import ptycho_fbp
    n_z = sample_depth_px(ds, config.n_slices)
    dx = ds.geometry.object_pixel_m
    refocus = config.refocus_fraction * (n_z // 2) * dx
    bar = tqdm(total=ds.n_angles, desc="ePIE per angle", leave=False, disable=None)

    def callback(stage, angle_index, info):
        if stage == "epie":
            bar.update(1)
    out = ptycho_fbp(ds.intensities, ds.positions_px, ds.probe_guess, ds.object_shape, ds.angles_rad,
                     float(units.wavelength_m(ds.geometry.energy_kev)), dx, n_iter=config.iterations,
                     refocus_m=refocus, filter=config.filter, rng=config.seed,
                     epie_kwargs={"alpha": config.alpha, "beta": config.beta,
                                  "update_probe_after": config.update_probe_after}, callback=callback,
                     vacuum_mask=_side_vacuum(ds))
    bar.close()
    recorder.record(config.iterations, float(np.mean([e[-1] for e in out["errors"]])) if len(out["errors"]) else 0.0)
    return _result(name, config, recorder, delta=fit_depth(out["delta"].astype(np.float32), n_z),
                   beta=fit_depth(out["beta"].astype(np.float32), n_z))


def _run_ad_thin(name, ds, config, recorder, device=None):
    from cdibench.ad.solvers import solve_thin
    return solve_thin(name, ds, config, recorder, device)


def _run_ad_volume(name, ds, config, recorder, device=None):
    from cdibench.ad.solvers import solve_volume
    return solve_volume(name, ds, config, recorder, device)


def _run_ad_bragg(name, ds, config, recorder, device=None):
    from cdibench.ad.bragg import solve_bragg
    return solve_bragg(name, ds, config, recorder, device)


SOLVERS: dict[str, SolverInfo] = {
    "hio": SolverInfo(("cdi",), HioConfig, _run_hio, description="HIO/ER cycles (Fienup 1982), numpy"),
    "er": SolverInfo(("cdi",), ErConfig, _run_er, description="error reduction (Fienup 1982), numpy"),
    "epie": SolverInfo(("ptycho-far",), PieConfig, _run_pie, description="ePIE (Maiden & Rodenburg 2009), numpy"),
    "rpie": SolverInfo(("ptycho-far",), PieConfig, _run_pie, {"alpha": 0.1},
                       "rPIE (Maiden, Johnson & Li 2017), numpy"),
    "fbp": SolverInfo(("fullfield-tomo",), FbpConfig, _run_fbp, description="filtered back projection of -log I"),
    "ptycho-fbp": SolverInfo(("multislice-tomo",), PtychoFbpConfig, _run_ptycho_fbp,
                             description="ePIE per angle -> refocus -> unwrap -> FBP (the conventional pipeline)"),
    "ad-cdi": SolverInfo(("cdi",), FitConfig, _run_ad_thin, {"learning_rate": 0.1, "iterations": 300},
                         "AD far-field CDI, known support (TensorFlow)"),
    "ad-ptycho": SolverInfo(("ptycho-far",), FitConfig, _run_ad_thin,
                            {"learning_rate": 0.05, "probe_learning_rate": 0.1, "decay_to": 0.2, "batch_size": 12},
                            "AD far-field ptychography (TensorFlow)"),
    "ad-nearfield": SolverInfo(("ptycho-near",), FitConfig, _run_ad_thin, {"learning_rate": 0.01},
                               "AD near-field ptychography (TensorFlow)"),
    "ad-multislice": SolverInfo(("multislice",), VolumeFitConfig, _run_ad_volume, {"learning_rate": 3e-4},
                                "AD single-angle multislice ptychography (TensorFlow)"),
    "ad-tomo": SolverInfo(("multislice-tomo",), VolumeFitConfig, _run_ad_volume, {"learning_rate": 3e-4},
                          "AD multi-angle multislice ptychography: 3D beyond the depth of focus (TensorFlow)"),
    "ad-fullfield": SolverInfo(("fullfield-tomo",), VolumeFitConfig, _run_ad_volume, {"learning_rate": 3e-4},
                               "AD full-field projection tomography (TensorFlow)"),
    "ad-bragg": SolverInfo(("bragg",), BraggFitConfig, _run_ad_bragg,
                           {"learning_rate": 0.02, "iterations": 200, "shrinkwrap_threshold": 0.2, "shrinkwrap_after": 20},
                           "AD multi-angle Bragg ptychography: the complex 3D crystal (TensorFlow)"),
}


# Peers (optional extra `peers`): established codes run in the same harness. The peer
# and PyTorch are imported only when such a solver runs; without them the run fails with a
# ValueError naming the extra to install (cdibench/peers/).
def _run_cdtools(name, ds, config, recorder, device=None):
    from cdibench.peers.cdtools_adapter import solve
    return solve(name, ds, config, recorder, device)


def _run_ptychi(name, ds, config, recorder, device=None):
    from cdibench.peers.ptychi_adapter import solve
    return solve(name, PTYCHI_ENGINES[name], ds, config, recorder, device)


PTYCHI_ENGINES = {"ptychi-lsqml": "LSQML", "ptychi-dm": "DM", "ptychi-epie": "EPIE"}
SOLVERS.update({
    "cdtools-fancyptycho": SolverInfo(("ptycho-far",), CdtoolsConfig, _run_cdtools, {"lr": 0.005},
                                      "cdtools FancyPtycho with its Adam loop (PyTorch; extra: peers)",
                                      ("cdtools", "peers")),
    "ptychi-lsqml": SolverInfo(("ptycho-far",), PtychiLsqmlConfig, _run_ptychi, {},
                               "pty-chi LSQML (PyTorch; extra: ptychi)", ("ptychi", "ptychi")),
    "ptychi-dm": SolverInfo(("ptycho-far",), PtychiDmConfig, _run_ptychi, {},
                            "pty-chi difference map (PyTorch; extra: ptychi)", ("ptychi", "ptychi")),
    "ptychi-epie": SolverInfo(("ptycho-far",), PtychiEpieConfig, _run_ptychi, {},
                              "pty-chi ePIE (PyTorch; extra: ptychi)", ("ptychi", "ptychi")),
})


def missing_backend(name: str) -> str | None:
    """Why solver ``name`` cannot run here (its optional backend is not installed), or None."""
    requires = SOLVERS[name].requires
    if requires is None or importlib.util.find_spec(requires[0]) is not None:
        return None
    return f"solver {name!r} needs {requires[0]!r}, which is not installed: pip install 'cdibench[{requires[1]}]'"


def load_backend(name: str) -> None:
    """Import the solver's heavy backend (TensorFlow for AD solvers) ahead of a measured run, so
    that a run's memory and time are its own, not the library's start-up."""
    if SOLVERS[name].run is _run_ad_thin or SOLVERS[name].run is _run_ad_volume:
        import cdibench.ad.solvers  # noqa: F401
    if SOLVERS[name].run is _run_ad_bragg:
        import cdibench.ad.bragg  # noqa: F401


def solver_config(name: str, options: Mapping | None = None, seed: int | None = None):
    """The solver's frozen config from its defaults updated by ``options`` (and ``seed``, for
    solvers with random choices); errors name the option."""
    if name not in SOLVERS:
        raise ValueError(f"solver = {name!r} is unknown: expected one of {', '.join(SOLVERS)}")
    info = SOLVERS[name]
    merged = {**info.defaults, **dict(options or {})}
    if seed is not None and "seed" in info.config.__dataclass_fields__:
        merged.setdefault("seed", seed)
    return from_mapping(info.config, merged, f"solver {name!r} option")


def reconstruct(dataset, name: str, config=None, *, progress: bool = True, device: str | None = None,
                max_wall_s: float | None = None) -> Reconstruction:
    """Run solver ``name`` on ``dataset`` (validated first); per-iteration metrics if truth is known.

    max_wall_s: a time budget; the solver stops after the iteration that spends it."""
    config = solver_config(name) if config is None else config
    info = SOLVERS[name]
    if dataset.kind not in info.kinds:
        raise ValueError(f"solver {name!r} handles kinds {info.kinds}, not this dataset's kind {dataset.kind!r}")
    dataset = validate_dataset(dataset)
    total = getattr(config, "iterations", 1)
    bar = tqdm(total=total, desc=name, disable=not progress, leave=False)
    try:
        recorder = Recorder(metric_function(dataset), getattr(config, "metrics_every", 10), bar,
                            total=total, max_wall_s=max_wall_s)
        return info.run(name, dataset, config, recorder, device)
    finally:
        bar.close()
