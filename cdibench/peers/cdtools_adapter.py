"""cdtools (PyPI ``cdtools-py``, PyTorch) FancyPtycho as a cdibench solver.

The data reach cdtools through a CXI file written by :func:`cdibench.data.cxi.save_cxi` and opened by
cdtools' own loader (``Ptycho2DDataset.from_cxi``), so every run also checks that our files mean
to cdtools what they mean to us. The geometry conversions, each checked at run time by
:func:`check_geometry` and pinned by ``tests/test_peers.py``:

- Translation sign. The CXI file holds the *sample* translation ``-c * object_pixel_m`` (x = column,
  y = row; ``c`` the probe centre relative to the object-array centre, see cdibench.data.cxi). cdtools'
  reader negates it into a probe translation (+c) and maps it to pixels through its object basis.
- Object basis and orientation. cdtools reads ``detector_1/basis_vectors`` ((2, 3) rows
  ``[0, p, 0]``, ``[p, 0, 0]``: detector row along +y, column along +x) and derives the exit-wave
  basis ``lambda z / (N p)`` along the same +y / +x: its object pixel equals ours and its
  (row, col) array axes are ours, no transpose and no mirror. Pixel translations come out as ``c``.
- Placement. cdtools puts a probe window at ``c - min_translation`` (its ``min_translation`` is the
  smallest ``c`` less ``obj_padding``, which would shift its grid by a fraction of a pixel against
  ours). We set ``min_translation = probe_n // 2 - object_n // 2`` and an object array of OUR
  ``object_shape``, so the window corner is exactly our ``positions_px`` (subpixel part included):
  cdtools' object array *is* our object array, pixel for pixel.
- Subpixel shifts: cdtools shifts the probe by the fractional corner with a Fourier phase ramp,
  as our simulator does (same sign, same frequency grid).
- Centring. cdtools' far-field propagator is ``fftshift(fft2(ifftshift(.), norm="ortho"))``, the
  same centred unitary FFT as ours; patterns are read unshifted (zero frequency at ``n // 2``).
- Probe normalisation. FancyPtycho stores ``probe / probe_norm`` (``probe_norm`` = max modulus of
  mode 0) and multiplies it back in the exit wave; we set both from our probe so the modelled
  intensity is ``sum_modes |F(P O)|^2`` in photons, as ours. FancyPtycho's model also has per-frame
  weights (start 1) and a detector background added as ``background^2`` (start 1e-6, i.e. 1e-12
  photons): both refined by default, as in cdtools; zeroed and fixed in the forward check.
- Mask. cdtools reads CXI bit flags as "good where 0" (and 0x1000, "signal", as good), ours too.
- Counts. cdtools' loader clips negative counts (read noise) to 0; the other solvers see them.

Returned object: cdtools' object array as it is (our grid). Returned probe: the mode stack times
``probe_norm`` and the mean per-frame weight. Positions are not refined: our recorded positions are
exact, and cdtools' translation offsets would need an object padding our grid has not.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

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

EXTRA = "peers"
LOSSES = ("amplitude mse", "poisson nll", "intensity mse")
PROBE_INITS = ("dataset", "sharp")
GEOMETRY_TOLERANCE_PX = 1e-3  # float32 translations of a few 1e-5 m: ~1e-6 px measured


@dataclass(frozen=True)
class CdtoolsConfig:
    """cdtools FancyPtycho with its Adam loop (``model.Adam_optimize``); ``iterations`` are epochs.
    lr, batch_size, loss, schedule are cdtools' own Adam options (its defaults 0.005, 15,
    "amplitude mse", False)."""

    iterations: int = option(100, "epochs")
    lr: float = option(0.005, "cdtools' Adam learning rate")
    batch_size: int = option(15, "positions per cdtools minibatch")
    loss: str = option("amplitude mse", f"cdtools' loss: one of {', '.join(LOSSES)}")
    schedule: bool = option(False, "cdtools' learning-rate schedule")
    n_modes: int = option(0, "probe modes (0: those of the dataset's probe guess; extra modes start as "
                             "cdtools starts them, 1 % random)")
    probe_init: str = option("dataset", "'dataset': start from the dataset's probe guess like every other "
                                        "solver; 'sharp': cdtools' own (root of the mean pattern, flat phase)")
    refine_background: bool = option(True, "fit FancyPtycho's detector background (cdtools' default)")
    refine_weights: bool = option(True, "fit FancyPtycho's per-frame probe weights (cdtools' default)")
    torch_threads: int = option(0, "torch's intra-op CPU threads (0: torch's default, all cores; on 2 cores "
                                   "1 thread ran std-ptycho-far epochs 2.7x faster than 2)")
    metrics_every: int = option(10, "iterations between metric evaluations (untimed)")
    seed: int = option(0, "seed of torch's RNG (extra modes, minibatches)")

    def __post_init__(self):
        require(self.iterations >= 0, "iterations", self.iterations, ">= 0")
        require(self.lr > 0, "lr", self.lr, "> 0")
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        require(self.loss in LOSSES, "loss", self.loss, f"one of {LOSSES}")
        require(self.n_modes >= 0, "n_modes", self.n_modes, ">= 0 (0: the probe guess's modes)")
        require(self.torch_threads >= 0, "torch_threads", self.torch_threads, ">= 0 (0: torch's default)")
        require(self.probe_init in PROBE_INITS, "probe_init", self.probe_init, f"one of {PROBE_INITS}")


def cdtools_dataset(ds, folder, solver: str = "cdtools-fancyptycho"):
    """Write ``ds`` as CXI into ``folder`` and open it with cdtools' own CXI loader.

    Returns a ``cdtools.datasets.Ptycho2DDataset``. A per-frame mask becomes one (n_y, n_x) mask
    bad wherever any frame is bad (FancyPtycho takes one mask for all frames).
    """
    from cdibench.data.cxi import save_cxi

    require_single_angle_far_field(ds, solver)
    cdtools = require_module("cdtools", solver, EXTRA)
    path = save_cxi(ds, Path(folder) / "dataset.cxi", command="cdibench peers: cdtools adapter")
    with warnings.catch_warnings():  # cdtools 0.3.2 calls np.maximum(data, 0, data): deprecated form
        warnings.simplefilter("ignore", DeprecationWarning)
        data = cdtools.datasets.Ptycho2DDataset.from_cxi(path)
    if data.mask is not None and data.mask.ndim == 3:
        data.mask = data.mask.all(dim=0)
    return data


def check_geometry(ds, data) -> dict:
    """Compare what cdtools read with the Dataset; raise ValueError past the stated tolerance.

    Returns the discrepancies: ``positions_px`` (max |cdtools window corner - ours| [px]),
    ``object_pixel`` and ``wavelength``, ``distance`` (relative).
    """
    import torch
    from cdtools.tools import initializers, interactions

    from cdibench import units
    from cdibench.data.cxi import translation_m

    geo = ds.geometry
    basis = initializers.exit_wave_geometry(data.detector_geometry["basis"], ds.pattern_shape,
                                            data.wavelength, data.detector_geometry["distance"])
    expected_basis = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]) * geo.object_pixel_m
    pixels = interactions.translations_to_pixel(basis, data.translations).numpy().astype(np.float64)
    corners = pixels - (np.array(ds.pattern_shape) // 2 - np.array(ds.object_shape) // 2)
    out = {
        "positions_px": float(np.abs(corners - ds.positions_px[0]).max()),
        "translation_m": float(np.abs(data.translations.numpy() + translation_m(
            ds.positions_px, ds.pattern_shape, ds.object_shape, geo.object_pixel_m)).max()),
        "object_pixel": float(np.abs(basis.numpy() - expected_basis).max() / geo.object_pixel_m),
        "wavelength": abs(float(data.wavelength) / float(units.wavelength_m(geo.energy_kev)) - 1),
        "distance": abs(float(data.detector_geometry["distance"]) / geo.distance_m - 1),
        # cdtools clips negative counts (read noise) to 0 on load: compare with the clipped data
        "patterns": float(torch.max(torch.abs(data.patterns - torch.as_tensor(np.maximum(ds.intensities[0], 0))))),
    }
    bad = {k: v for k, v in out.items() if k != "translation_m" and v > (
        GEOMETRY_TOLERANCE_PX if k == "positions_px" else 0.0 if k == "patterns" else 1e-6)}
    if bad:
        raise ValueError(f"cdtools reads this dataset's geometry differently: {bad} (px or relative)")
    return out


def fancy_ptycho(ds, data, config: CdtoolsConfig, device: str = "cpu"):
    """A FancyPtycho model on OUR object grid, started from ``config.probe_init``."""
    import torch
    from cdtools.models import FancyPtycho

    torch.manual_seed(config.seed)  # cdtools draws its extra modes and minibatches from torch's RNG
    n_modes = config.n_modes or ds.probe_guess.shape[0]
    model = FancyPtycho.from_dataset(data, n_modes=n_modes, obj_padding=0, loss=config.loss)
    window, shape = np.array(ds.pattern_shape), np.array(ds.object_shape)
    model.min_translation.copy_(torch.as_tensor(window // 2 - shape // 2, dtype=torch.float32))
    model.obj = torch.nn.Parameter(torch.ones(tuple(ds.object_shape), dtype=torch.complex64))
    if config.probe_init == "dataset":
        guess = torch.as_tensor(ds.probe_guess[:n_modes], dtype=torch.complex64)
        extra = [0.01 * guess[0].abs().max() * torch.rand(guess.shape[-2:], dtype=torch.complex64)
                 for _ in range(n_modes - len(guess))]
        set_probe(model, torch.cat([guess, *(e[None] for e in extra)]))
    model.translation_offsets.requires_grad_(False)
    model.background.requires_grad_(config.refine_background)
    model.weights.requires_grad_(config.refine_weights)
    return model.to(device=device)


def set_probe(model, probe) -> None:
    """Load a probe in photons-per-frame units (complex (n_modes, n_y, n_x)) into FancyPtycho."""
    import torch

    probe = torch.as_tensor(probe, dtype=torch.complex64)
    model.probe_norm.fill_(float(probe[0].abs().max()))
    model.probe = torch.nn.Parameter(probe / model.probe_norm)


def estimate(model) -> dict:
    """FancyPtycho's state on our grid: object complex64 (n_y, n_x), probe (n_modes, n_y, n_x)."""
    obj = model.obj.detach().cpu().numpy().astype(np.complex64)
    scale = model.probe_norm.detach().cpu().numpy()
    if model.weights is not None and model.weights.ndim == 1:
        scale = scale * model.weights.detach().abs().mean().cpu().numpy()
    probe = (model.probe.detach().cpu().numpy() * scale).astype(np.complex64)
    return {"object": obj, "probe": probe}


def forward_intensities(ds, obj: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """cdtools' FancyPtycho forward model on a given object and probe, background 0, weights 1.

    obj: complex (object_shape); probe: complex (n_modes, n_y, n_x) -> float32
    (n_positions, n_y, n_x) photons: what cdtools predicts for ``ds`` (the test of the conversion).
    """
    import torch

    with tempfile.TemporaryDirectory() as folder:
        data = cdtools_dataset(ds, folder)
    model = fancy_ptycho(ds, data, CdtoolsConfig(n_modes=len(probe)))
    set_probe(model, probe)
    with torch.no_grad():
        model.obj.copy_(torch.as_tensor(obj, dtype=torch.complex64))
        model.background.zero_()
        model.weights.fill_(1.0)
        (index, translations), _ = data[:]
        return model.forward(index, translations).numpy()


@dataclass(frozen=True)
class Prepared:
    """FancyPtycho set up on ``ds`` (untimed): the model, cdtools' dataset on the target device, and
    its Adam loop as a generator of epoch losses (started by the first epoch)."""

    name: str
    config: CdtoolsConfig
    model: object
    target: str
    epochs: object
    version: str


def setup(name: str, ds, config: CdtoolsConfig, device: str | None = None) -> Prepared:
    """cdtools' view of ``ds`` (through a CXI file, its geometry checked) and a FancyPtycho model."""
    require_module("torch", name, EXTRA)
    cdtools = require_module("cdtools", name, EXTRA)
    target = torch_device(device)
    with tempfile.TemporaryDirectory() as folder:
        data = cdtools_dataset(ds, folder, name)
    check_geometry(ds, data)
    model = fancy_ptycho(ds, data, config, target)
    data.get_as(device=target)
    epochs = model.Adam_optimize(config.iterations, data, batch_size=config.batch_size, lr=config.lr,
                                 schedule=config.schedule, thread=False)
    return Prepared(name, config, model, target, epochs, cdtools.__version__)


def step(prepared: Prepared) -> float:
    """The next epoch of FancyPtycho's Adam loop -> its loss."""
    with torch_threads(prepared.config.torch_threads):
        return float(next(prepared.epochs))


def _optimise(prepared: Prepared, recorder) -> tuple[str, str]:
    """FancyPtycho's Adam loop, one recorder row per epoch; returns (status, message)."""
    for epoch in range(1, prepared.config.iterations + 1):
        loss = step(prepared)
        if not np.isfinite(loss):
            return "diverged", f"cdtools loss {loss} at epoch {epoch}"
        if recorder.record(epoch, loss, lambda: estimate(prepared.model)):
            break
    return "ok", ""


def run(prepared: Prepared, recorder) -> Reconstruction:
    """The epochs (timed), one recorder row each."""
    status, message = _optimise(prepared, recorder)
    record = peer_provenance(prepared.target, "cdtools-py", prepared.version)
    return Reconstruction(solver=prepared.name, config=asdict(prepared.config), history=recorder.history(),
                          status=status, message=message, provenance=record, **estimate(prepared.model))
