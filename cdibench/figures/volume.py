"""Central slices of reconstructed volumes beside the truth, one row per case (the seed paper's Fig. 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench import metrics
from cdibench.data.dataset import Dataset
from cdibench.figures import _grid
from cdibench.figures.style import FigureOutput, new_figure, paper_style, save_figure
from cdibench.metrics.evaluate import measured_volume, volume_quantity, volume_scores

VIEWS = ("xz", "yx")
SYMBOLS = {"delta": "\u03b4", "beta": "\u03b2"}


@dataclass(frozen=True)
class _Row:
    label: str
    truth: np.ndarray  # float64 (n_z, n_y, n_x) cropped to the measured box, NaN outside the measured mask
    estimates: dict  # label -> cropped array like truth, or a str saying why there is none
    scores: dict  # label -> volume scores dict
    box: tuple
    full_shape: tuple
    voxel_m: float | None
    quantity: str


def _estimate_array(estimate, quantity: str):
    return getattr(estimate, quantity, None) if not isinstance(estimate, np.ndarray) else estimate


def _prepare(label: str, source, estimates: dict, quantity: str) -> _Row:
    if isinstance(source, Dataset):
        if source.truth is None:
            raise ValueError(f"row {label!r}: the dataset has no ground truth to compare with")
        q = volume_quantity(source) if quantity == "auto" else quantity
        truth = np.asarray(getattr(source.truth, q), np.float64)
        box, measured = measured_volume(source)
        voxel_m = float(source.truth.voxel_size_m)
        score = lambda est: volume_scores(est, truth, source)  # noqa: E731
    else:
        q = "delta" if quantity == "auto" else quantity
        truth = np.asarray(source, np.float64)
        if truth.ndim != 3:
            raise ValueError(f"row {label!r}: truth volume must be 3D (n_z, n_y, n_x), got shape {truth.shape}")
        box, measured, voxel_m = (slice(None),) * 3, np.ones(truth.shape, bool), None
        score = lambda est: metrics.score_volume(est, truth)  # noqa: E731
    crop = lambda v: np.where(measured, np.asarray(v, np.float64)[box], np.nan)  # noqa: E731
    shown, scores = {}, {}
    for name, estimate in estimates.items():
        array = _estimate_array(estimate, q)
        if array is None:
            shown[name] = f"no {q} estimate"
        elif np.shape(array) != truth.shape:
            shown[name] = f"shape {np.shape(array)}\n\u2260 truth {truth.shape}"
        else:
            scores[name] = score(np.asarray(array, np.float64))
            shown[name] = crop(array)
    return _Row(label, crop(truth), shown, scores, box, truth.shape, voxel_m, q)


def _slice(volume: np.ndarray, view: str) -> np.ndarray:
    """The central x-z (rows z, columns x) or y-x (rows y, columns x) slice of a cropped volume."""
    if view == "xz":
        return volume[:, volume.shape[1] // 2, :]
    return volume[volume.shape[0] // 2]


def _extent(row: _Row, view: str, scale: float) -> tuple[float, float, float, float]:
    n_z, n_y, n_x = row.full_shape
    x0, x1 = _grid.axis_extent(row.box[2], n_x, row.voxel_m, scale)
    axis, n = (row.box[0], n_z) if view == "xz" else (row.box[1], n_y)
    v0, v1 = _grid.axis_extent(axis, n, row.voxel_m, scale)
    return x0, x1, v1, v0  # origin upper: first row at the top


def _draw_row(subfig, row: _Row, columns: list[str], views, cmap) -> None:
    from matplotlib.colors import Normalize

    shapes = [_slice(row.truth, v).shape for v in views]
    axes = _grid.panel_axes(subfig, shapes, 1 + len(columns))
    truth_slices = [_slice(row.truth, v) for v in views]
    norm = Normalize(*_grid.finite_limits(*truth_slices))
    unit, scale = _grid.units_for(row.full_shape, row.voxel_m)
    image = None
    for j, name in enumerate(["truth", *columns]):
        volume = row.truth if j == 0 else row.estimates.get(name, "not run")
        for i, view in enumerate(views):
            ax = axes[i, j]
            if isinstance(volume, str):
                _grid.empty_panel(ax, volume if i == 0 else "")
            else:
                image = _grid.show(ax, _slice(volume, view), _extent(row, view, scale), cmap, norm)
        if j == 0:
            axes[0, j].set_title("truth")
        elif name in row.scores:
            axes[0, j].set_title(f"{name}\nSSIM$_\\mathrm{{in}}$ = {row.scores[name]['ssim_in']:.3f}")
        else:
            axes[0, j].set_title(name)
    ylabels = [f"z, beam ({unit})" if v == "xz" else f"y, axis ({unit})" for v in views]
    _grid.label_outer(axes, f"x ({unit})", ylabels)
    subfig.colorbar(image, ax=axes.ravel().tolist(), label=SYMBOLS.get(row.quantity, row.quantity),
                    shrink=0.9, aspect=15, pad=0.02)
    subfig.suptitle(row.label, x=0.01, ha="left", fontweight="bold")


def fig_volume_panels(rows, path_stem, *, views=("xz",), quantity: str = "auto",
                      cmap: str = "viridis") -> FigureOutput:
    """Central slices of the truth and each solver's volume, one row per case, one colour scale per row.

    rows: list of ``(row_label, source, estimates)``: source a Dataset with ground truth (the measured
    box and mask of :func:`cdibench.metrics.evaluate.measured_volume` crop the slices, unmeasured voxels are
    blank, and SSIM is :func:`cdibench.metrics.evaluate.volume_scores`' "ssim_in") or a truth volume float
    (n_z, n_y, n_x) (whole volume, :func:`cdibench.metrics.score_volume`); estimates: solver label ->
    Reconstruction (its ``delta``/``beta``) or a float array (n_z, n_y, n_x).
    views: "xz" (the x-z slice at the central y row of the measured region: rows z along the beam)
    and/or "yx" (the y-x slice at the central z). quantity: "delta", "beta" or "auto" (what
    cdibench.metrics.evaluate scores: beta for contact full-field tomography, else delta). The colour scale
    of a row spans the truth's shown values. Writes ``path_stem``.png and .pdf.

    Returns FigureOutput with values = {row_label: {solver label: volume scores dict}}.
    """
    views = tuple(views)
    if not views or any(v not in VIEWS for v in views):
        raise ValueError(f"views = {views!r} is invalid: expected a non-empty subset of {VIEWS}")
    if not rows:
        raise ValueError("rows is empty: expected at least one (label, truth, estimates) row")
    with paper_style():
        prepared = [_prepare(label, source, dict(estimates), quantity) for label, source, estimates in rows]
        columns = _grid.column_labels(rows)
        width, heights = _grid.figure_size(1 + len(columns), [[_slice(r.truth, v).shape for v in views]
                                                              for r in prepared])
        fig = new_figure(width, sum(heights))
        subfigs = fig.subfigures(len(prepared), 1, height_ratios=heights, squeeze=False)[:, 0]
        from matplotlib import colormaps
        colours = colormaps[cmap].with_extremes(bad="white")
        for subfig, row in zip(subfigs, prepared):
            _draw_row(subfig, row, columns, views, colours)
        paths = save_figure(fig, path_stem)
    return FigureOutput(paths, fig, {r.label: r.scores for r in prepared})
