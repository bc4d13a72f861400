"""A quick look at a Dataset: a text summary and a one-page PNG (``cdibench info``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomllib

from cdibench import units
from cdibench.data.atomic import atomic_write
from cdibench.data.dataset import Dataset
from cdibench.phantoms.base import Phantom


def _spec_name(spec_toml: str) -> str:
    """The spec's ``name`` (top level or in its first table), else "-"."""
    try:
        spec = tomllib.loads(spec_toml)
    except tomllib.TOMLDecodeError:
        return "(unparsable spec)"
    if isinstance(spec.get("name"), str):
        return spec["name"]
    for value in spec.values():
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            return value["name"]
    return "-"


def _truth_lines(ds: Dataset) -> list[str]:
    truth = ds.truth
    if truth is None:
        return ["truth:        none (measured data)"]
    phantom = Phantom(truth.delta, truth.beta, truth.voxel_size_m, ds.geometry.energy_kev)
    s = phantom.summary()
    return [f"truth:        delta/beta {tuple(s['shape'])} voxel {s['voxel_size_m']:.3g} m, "
            f"max delta {s['delta_max']:.3g}, max beta {s['beta_max']:.3g}; "
            f"{truth.probe.shape[0]} true probe mode(s)",
            f"thickness:    {s['thickness_m']:.3g} m, DOF {s['dof_m']:.3g} m "
            f"(at voxel resolution), thickness/DOF {s['dof_ratio']:.3g}"]


def _cone_note(geo) -> str:
    """The physical distances behind a cone beam's effective distance and pixel ("" for a plane wave)."""
    if not geo.cone:
        return ""
    return (f" (effective: cone beam from a focus {geo.focus_to_sample_m:.4g} m before the sample, "
            f"detector {geo.sample_to_detector_m:.4g} m behind it, magnification {geo.magnification:.4g})")


def summarize(ds: Dataset) -> str:
    """A short multi-line human summary of ``ds`` (shapes, geometry, photons, mask, truth)."""
    geo = ds.geometry
    frame_photons = ds.intensities.sum(axis=(2, 3), dtype=np.float64)
    pos = ds.positions_px.reshape(-1, 2)
    angles_deg = np.degrees(ds.angles_rad)
    masked = np.count_nonzero(ds.mask) / ds.mask.size
    lines = [
        f"kind:         {ds.kind} ({geo.detection} field), spec {_spec_name(ds.spec_toml)!r}, seed {ds.seed}",
        f"intensities:  {ds.intensities.shape} {ds.intensities.dtype} "
        f"(n_angles, n_positions, n_y, n_x); object {tuple(ds.object_shape)}",
        f"probe guess:  {ds.probe_guess.shape[0]} mode(s) of {ds.probe_guess.shape[1:]}",
        f"energy:       {geo.energy_kev:.4g} keV, wavelength {float(units.wavelength_m(geo.energy_kev)):.4g} m",
        f"distance:     {geo.distance_m:.4g} m; detector pixel {geo.detector_pixel_m:.3g} m, "
        f"object pixel {geo.object_pixel_m:.3g} m" + _cone_note(geo),
        f"angles:       {ds.n_angles} from {angles_deg.min():.3g} to {angles_deg.max():.3g} deg",
        f"positions:    rows {pos[:, 0].min():.1f}..{pos[:, 0].max():.1f} px, "
        f"cols {pos[:, 1].min():.1f}..{pos[:, 1].max():.1f} px "
        f"({np.ptp(pos[:, 0]) * geo.object_pixel_m:.3g} x {np.ptp(pos[:, 1]) * geo.object_pixel_m:.3g} m)",
        f"photons:      per frame mean {frame_photons.mean():.4g}, max {frame_photons.max():.4g}; "
        f"pixel max {float(ds.intensities.max()):.4g}",
        f"mask:         {100 * masked:.2f} % masked ({ds.mask.shape})",
        f"support:      {'none' if ds.support is None else f'{np.count_nonzero(ds.support)} px'}",
        *_truth_lines(ds),
    ]
    return "\n".join(lines)


def _panel(fig, index: int, n: int, image, title: str, **kwargs):
    ax = fig.add_subplot(2, n, index)
    im = ax.imshow(image, **kwargs)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.7)


def inspect_png(ds: Dataset, path) -> Path:
    """Write a PNG to ``path``: truth amplitude/phase (twilight), central delta slice (3D truth),
    probe amplitude, and three patterns (first, middle, last frame) on a log scale. Atomic."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 6), layout="constrained")
    FigureCanvasAgg(fig)
    n = 4
    if ds.truth is not None:
        obj = ds.truth.object
        if obj.ndim == 3:  # the complex crystal of kind "bragg": its central z slice
            obj = obj[obj.shape[0] // 2]
        _panel(fig, 1, n, np.abs(obj), "truth |object|", cmap="gray", vmin=0)
        _panel(fig, 2, n, np.angle(obj), "truth arg(object) [rad]", cmap="twilight", vmin=-np.pi, vmax=np.pi)
        if ds.truth.delta.shape[0] > 1:
            mid = ds.truth.delta.shape[0] // 2
            _panel(fig, 3, n, ds.truth.delta[mid], f"delta, slice z={mid}", cmap="viridis")
    else:
        fig.add_subplot(2, n, 1).text(0.5, 0.5, "no ground truth", ha="center", va="center")
    probe_amp = np.sqrt((np.abs(ds.probe_guess) ** 2).sum(axis=0))
    _panel(fig, 4, n, probe_amp, f"probe guess amplitude ({ds.probe_guess.shape[0]} modes)", cmap="magma")
    frames = ds.intensities.reshape(-1, *ds.pattern_shape)
    for k, i in enumerate(sorted({0, len(frames) // 2, len(frames) - 1})):
        pattern = frames[i]
        positive = pattern[pattern > 0]
        norm = LogNorm(vmin=max(positive.min(), 1e-3), vmax=positive.max()) if positive.size else None
        a, p = divmod(i, ds.n_positions)
        _panel(fig, n + 1 + k, n, np.where(pattern > 0, pattern, np.nan), f"pattern (angle {a}, "
               f"position {p}) [photons]", cmap="inferno", norm=norm)
    fig.suptitle(f"{ds.kind}: {_spec_name(ds.spec_toml)}")
    path = Path(path)
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path
