"""pty-chi (PyPI ``ptychi``, PyTorch) LSQML, DM and ePIE engines as cdibench solvers.

The data reach pty-chi as arrays through its own API (``PtychographyTask`` with the engine's
options class). The geometry conversions, pinned by ``tests/test_peers_ptychi.py`` (pty-chi's
forward model on our truth reproduces our noise-free intensities):

- Positions. pty-chi takes probe *centres* ``(y, x)`` in object pixels relative to an origin it
  adds before cutting patches (``determine_position_origin_coords_by = SPECIFIED``). Ours are the
  top-left corners ``c`` of the probe window: we pass ``c`` and the origin ``(n - 1) / 2`` (n the
  window size), so pty-chi's window starts at ``round(c)``. pty-chi's object array is our object
  array, pixel for pixel, same (row, col) axes: no transpose, no mirror.
- Subpixel shifts. pty-chi shifts the probe by ``c - round(c)`` (in [-0.5, 0.5]) with a Fourier
  ramp, we by ``c - floor(c)`` (in [0, 1)) on a window one pixel lower: the same exit wave up to
  the probe's wrap-around at the window edge. pty-chi 2.2 shifts only the first probe mode
  (``shift_unique_probes(first_mode_only=True)``): with several modes and subpixel positions its
  model differs from ours in the other modes.
- Centring. pty-chi's far-field model is a bare ``fft2`` (zero frequency at pixel 0); it FFT-shifts
  the measured patterns on load (``fft_shift = True``), which turns our centred patterns (zero
  frequency at ``n // 2``) into its layout. The two transforms differ by a phase ramp only.
- Probe normalisation. pty-chi's FFT is unnormalised (``norm="backward"``), ours unitary: its
  modelled intensity is ``N |F_ortho(P O)|^2`` (N = n_y n_x). We hand it ``P / sqrt(N)`` and scale
  its probe back by ``sqrt(N)``, so that probes are in photons per frame, as ours.
- Mask: pty-chi takes one 2D "valid" mask; a pixel is valid where our mask is 0 in every frame.
- Counts: negative counts (read noise) are clipped to 0, since the engines take square roots.

Returned object: pty-chi's object array as it is (our grid); probe: its incoherent modes (OPR mode
0) times ``sqrt(N)``. Positions are not refined (ours are exact). pty-chi sets torch's default
device, dtype and global RNG seeds while it builds a task; the adapter restores device and dtype.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from cdibench.config import option, require
from cdibench.data.reconstruction import Reconstruction
from cdibench.peers import (
    peer_provenance,
    require_single_angle_far_field,
    torch_device,
    torch_threads,
)
from cdibench.peers import require as require_module

EXTRA = "ptychi"
NOISE_MODELS = ("gaussian", "poisson")


@dataclass(frozen=True)
class PtychiConfig:
    """Options every pty-chi engine takes; ``iterations`` are pty-chi epochs (one pass over all
    positions)."""

    iterations: int = option(100, "pty-chi epochs (passes over every position)")
    refine_probe: bool = option(True, "update the probe")
    torch_threads: int = option(0, "torch's intra-op CPU threads (0: torch's default, all cores; on 2 cores 2 "
                                   "threads ran std-ptycho-far epochs 1.2-1.6x faster than 1 when the other core "
                                   "was idle, slower when busy)")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "pty-chi's random seed")

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")
        require(self.torch_threads >= 0, "torch_threads", self.torch_threads, ">= 0 (0: torch's default)")


@dataclass(frozen=True)
class PtychiLsqmlConfig(PtychiConfig):
    """LSQML (Odstrcil et al. 2018, as in PtychoShelves). pty-chi's default batch of 100 is one batch
    of all 36 positions on quick-ptycho-far: NRMSE 0.27 -> 0.26 in 40 epochs, against 0.095 with
    batch 4; 16 is 1/9 of std-ptycho-far's 144 positions. pty-chi's momentum acceleration is left
    off: it acts on the object only in "compact" batching."""

    batch_size: int = option(16, "positions per update")
    step_scale: float = option(0.9, "scaler of the solved optimal object and probe steps (pty-chi's 0.9)")
    noise_model: str = option("gaussian", "'gaussian' (amplitude) or 'poisson'")

    def __post_init__(self):
        super().__post_init__()
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        require(self.step_scale > 0, "step_scale", self.step_scale, "> 0")
        require(self.noise_model in NOISE_MODELS, "noise_model", self.noise_model, f"one of {NOISE_MODELS}")


@dataclass(frozen=True)
class PtychiDmConfig(PtychiConfig):
    """Difference map (Thibault et al. 2009); every iteration updates all exit waves at once."""

    relaxation: float = option(1.0, "relaxation of the exit-wave update in [0, 1] (pty-chi's 1)")
    object_inertia: float = option(0.0, "weight of the old object in each update, in [0, 1] (pty-chi's 0)")
    probe_inertia: float = option(0.0, "weight of the old probe in each update, in [0, 1] (pty-chi's 0)")

    def __post_init__(self):
        super().__post_init__()
        for name in ("relaxation", "object_inertia", "probe_inertia"):
            value = getattr(self, name)
            require(0 <= value <= 1, name, value, "in [0, 1]")


@dataclass(frozen=True)
class PtychiEpieConfig(PtychiConfig):
    """ePIE (Maiden & Rodenburg 2009) in pty-chi's minibatch form (batch_size 1: the serial original)."""

    batch_size: int = option(1, "positions per update (1: the serial original)")
    object_alpha: float = option(1.0, "object update weight alpha (Maiden et al. 2017, table 1; pty-chi's "
                                      "default 0.1, the original's 1)")
    probe_alpha: float = option(1.0, "probe update weight alpha (pty-chi's default 0.1, the original's 1)")

    def __post_init__(self):
        super().__post_init__()
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        require(self.object_alpha > 0, "object_alpha", self.object_alpha, "> 0")
        require(self.probe_alpha > 0, "probe_alpha", self.probe_alpha, "> 0")


def task_arrays(ds, probe: np.ndarray, obj: np.ndarray | None = None) -> dict:
    """The PtychographyTask data arguments for ``ds`` (see the module docstring).

    probe: complex (n_modes, n_y, n_x) in photons per frame; obj: complex object_shape (default
    ones). Returns diffraction_data float32 (n_positions, n_y, n_x), object_data complex64
    (1, *object_shape), probe_data complex64 (1, n_modes, n_y, n_x) divided by sqrt(n_y n_x),
    probe_position_y_px / _x_px float64 (n_positions,) window corners, valid_pixel_mask bool (n_y, n_x).
    """
    window = np.prod(ds.pattern_shape)
    obj = np.ones(ds.object_shape, np.complex64) if obj is None else obj
    mask = ds.mask if ds.mask.ndim == 2 else ds.mask.reshape(-1, *ds.pattern_shape).max(axis=0)
    return {
        "diffraction_data": np.maximum(ds.intensities[0], 0).astype(np.float32),
        "object_data": np.asarray(obj, np.complex64)[None],
        "probe_data": (np.asarray(probe) / np.sqrt(window)).astype(np.complex64)[None],
        "probe_position_y_px": ds.positions_px[0, :, 0].astype(np.float64),
        "probe_position_x_px": ds.positions_px[0, :, 1].astype(np.float64),
        "valid_pixel_mask": mask == 0,
    }


def task_options(ds, engine: str, config: PtychiConfig | None, target: str = "cpu"):
    """pty-chi's options object for ``engine`` ("LSQML", "DM", "EPIE") on ``ds`` (geometry from
    ``ds``, engine options from ``config``; None: pty-chi's defaults, one epoch)."""
    from ptychi import api

    from cdibench import units

    options = {"LSQML": api.LSQMLOptions, "DM": api.DMOptions, "EPIE": api.EPIEOptions}[engine]()
    options.data_options.wavelength_m = float(units.wavelength_m(ds.geometry.energy_kev))
    options.data_options.fft_shift = True  # ours are centred, pty-chi's model is not
    options.object_options.pixel_size_m = float(ds.geometry.object_pixel_m)
    options.object_options.determine_position_origin_coords_by = api.ObjectPosOriginCoordsMethods.SPECIFIED
    options.object_options.position_origin_coords = (np.array(ds.pattern_shape) - 1) / 2
    options.probe_position_options.optimizable = False
    recon = options.reconstructor_options
    recon.default_device = api.Devices.CPU if target == "cpu" else api.Devices.GPU
    if config is not None:
        recon.num_epochs = max(config.iterations, 1)
        recon.random_seed = config.seed
        options.probe_options.optimizable = config.refine_probe
        _engine_options(options, config)
    return options


def _engine_options(options, config: PtychiConfig) -> None:
    from ptychi import api

    recon, obj, probe = options.reconstructor_options, options.object_options, options.probe_options
    if isinstance(config, PtychiLsqmlConfig):
        recon.batch_size = config.batch_size
        recon.noise_model = api.NoiseModels(config.noise_model)  # a StrEnum: "gaussian", "poisson"
        obj.optimal_step_size_scaler = probe.optimal_step_size_scaler = config.step_scale
    elif isinstance(config, PtychiDmConfig):
        recon.exit_wave_update_relaxation = config.relaxation
        recon.displayed_loss_function = None  # DM records its own error (else pty-chi warns)
        recon.chunk_length = 1 << 30  # all positions in one chunk: no effect on convergence, fast
        obj.inertia, probe.inertia = config.object_inertia, config.probe_inertia
    elif isinstance(config, PtychiEpieConfig):
        recon.batch_size = config.batch_size
        obj.alpha, probe.alpha = config.object_alpha, config.probe_alpha


@contextmanager
def _torch_defaults(device=None, dtype=None):
    """Restore torch's default device and dtype on exit, which building a pty-chi task changes;
    ``device``, ``dtype``: set these inside the block (the ones a built task left)."""
    import torch

    before = torch.get_default_device(), torch.get_default_dtype()
    try:
        if device is not None:
            torch.set_default_device(device)
            torch.set_default_dtype(dtype)
        yield
    finally:
        torch.set_default_device(before[0])
        torch.set_default_dtype(before[1])


def build_task(ds, engine: str, config: PtychiConfig | None, probe: np.ndarray,
               obj: np.ndarray | None = None, target: str = "cpu"):
    """A built ``ptychi.api.task.PtychographyTask`` for ``ds`` (call inside ``_torch_defaults``)."""
    from ptychi.api.task import PtychographyTask

    return PtychographyTask(task_options(ds, engine, config, target), **task_arrays(ds, probe, obj))


def estimate(task, window_px: int) -> dict:
    """pty-chi's state on our grid: object complex64 object_shape, probe complex64
    (n_modes, n_y, n_x) in photons per frame (OPR mode 0 times sqrt(window_px))."""
    obj = task.get_data_to_cpu("object", as_numpy=True)[0].astype(np.complex64)
    probe = task.get_data_to_cpu("probe", as_numpy=True)[0] * np.sqrt(window_px)
    return {"object": obj, "probe": probe.astype(np.complex64)}


def forward_intensities(ds, obj: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """pty-chi's far-field forward model on a given object and probe.

    obj: complex object_shape; probe: complex (n_modes, n_y, n_x) in photons per frame ->
    float32 (n_positions, n_y, n_x), centred as ours: what pty-chi predicts for ``ds``.
    """
    import torch

    require_single_angle_far_field(ds, "ptychi-forward")
    with _torch_defaults(), torch.no_grad():
        task = build_task(ds, "LSQML", None, probe, obj)
        model = task.reconstructor.forward_model
        predicted = model.forward(torch.arange(ds.n_positions))
        return torch.fft.fftshift(predicted, dim=(-2, -1)).cpu().numpy().astype(np.float32)


@dataclass(frozen=True)
class Prepared:
    """A built pty-chi task (untimed) and the torch defaults its build left, under which it runs."""

    name: str
    config: PtychiConfig
    task: object
    target: str
    window_px: int
    defaults: tuple
    version: str


def setup(name: str, engine: str, ds, config: PtychiConfig, device: str | None = None) -> Prepared:
    """pty-chi's ``engine`` on ``ds``, from the dataset's probe guess and a flat object."""
    torch = require_module("torch", name, EXTRA)
    ptychi = require_module("ptychi", name, EXTRA)
    require_single_angle_far_field(ds, name)
    target = torch_device(device)
    with _torch_defaults(), torch_threads(config.torch_threads):
        task = build_task(ds, engine, config, ds.probe_guess, target=target)
        defaults = torch.get_default_device(), torch.get_default_dtype()
    return Prepared(name, config, task, target, int(np.prod(ds.pattern_shape)), defaults, ptychi.__version__)


def step(prepared: Prepared) -> float:
    """One pty-chi epoch -> its loss."""
    with _torch_defaults(*prepared.defaults), torch_threads(prepared.config.torch_threads):
        prepared.task.run(n_epochs=1)
    return float(prepared.task.reconstructor.loss_tracker.table["loss"].iloc[-1])


def _optimise(prepared: Prepared, recorder) -> tuple[str, str]:
    """One pty-chi epoch per recorder row (metrics untimed); returns (status, message)."""
    for epoch in range(1, prepared.config.iterations + 1):
        loss = step(prepared)
        if not np.isfinite(loss):
            return "diverged", f"pty-chi loss {loss} at epoch {epoch}"
        if recorder.record(epoch, loss, lambda: estimate(prepared.task, prepared.window_px)):
            break
    return "ok", ""


def run(prepared: Prepared, recorder) -> Reconstruction:
    """The epochs (timed), one recorder row each."""
    status, message = _optimise(prepared, recorder)
    with _torch_defaults(*prepared.defaults):
        result = estimate(prepared.task, prepared.window_px)
    record = peer_provenance(prepared.target, "ptychi", prepared.version)
    return Reconstruction(solver=prepared.name, config=asdict(prepared.config), history=recorder.history(),
                          status=status, message=message, provenance=record, **result)
