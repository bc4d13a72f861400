"""Phase and amplitude of aligned 2D complex objects beside the truth, one row pair per case."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdibench import metrics
from cdibench.data.dataset import Dataset
from cdibench.figures import _grid
from cdibench.figures.style import FigureOutput, new_figure, paper_style, save_figure
from cdibench.kinds import kind
from cdibench.metrics.evaluate import illuminated_region

WRAP_ABOVE_RAD = np.pi  # truth phase spans wider than this: show the full 2 pi cycle, wrapped


@dataclass(frozen=True)
class _Row:
    label: str
    phase: dict  # "truth" and solver label -> float (n_y, n_x) cropped, NaN outside the region; or a str
    amplitude: dict
    scores: dict  # solver label -> metrics.score_complex dict
    box: tuple
    shape: tuple
    pixel_m: float | None


def _prepare(label: str, source, estimates: dict) -> _Row:
    if isinstance(source, Dataset):
        if source.truth is None:
            raise ValueError(f"row {label!r}: the dataset has no ground truth to compare with")
        truth, region = source.truth.object, illuminated_region(source)
        twin, pixel_m = kind(source.kind).twin, float(source.geometry.object_pixel_m)
    else:
        truth, region, twin, pixel_m = np.asarray(source), None, False, None
        if truth.ndim != 2:
            raise ValueError(f"row {label!r}: truth object must be 2D (n_y, n_x), got shape {truth.shape}")
    mask = np.ones(truth.shape, bool) if region is None else np.asarray(region, bool)
    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    crop = lambda a: np.where(mask, a, np.nan)[box]  # noqa: E731
    safe_truth = np.where(truth == 0, 1, truth)
    phase, amplitude, scores = {"truth": crop(np.angle(truth))}, {"truth": crop(np.abs(truth))}, {}
    for name, estimate in estimates.items():
        array = estimate if isinstance(estimate, np.ndarray) else getattr(estimate, "object", None)
        if array is None:
            phase[name] = amplitude[name] = "no object estimate"
            continue
        if np.shape(array) != truth.shape:
            phase[name] = amplitude[name] = f"shape {np.shape(array)}\n\u2260 truth {truth.shape}"
            continue
        options = dict(region=region, twin=twin, scale=not twin)
        aligned, _ = metrics.align(array, truth, **options)
        scores[name] = metrics.score_complex(array, truth, **options)
        # phase relative to the truth's (as score_complex), so wraps of the object are no errors
        phase[name] = crop(np.angle(truth) + np.angle(aligned * np.conj(safe_truth)))
        amplitude[name] = crop(np.abs(aligned))
    return _Row(label, phase, amplitude, scores, box, truth.shape, pixel_m)


def phase_display(truth_phase: np.ndarray, window_rad: float | None = None):
    """(norm, colormap, wrap) for phase images given the truth phase (NaN ignored).

    A truth spanning more than pi (or ``window_rad`` >= 2 pi) is shown over a full 2 pi cycle of the
    cyclic 'twilight' map centred on the truth's mid-range, images wrapped into it (wrap=True).
    Otherwise the window is 1.2 x the truth's range (or ``window_rad``) around its mid-range, in the
    central 80 % of 'twilight', so the two ends stay distinguishable; images are clipped.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, Normalize

    lo, hi = _grid.finite_limits(truth_phase)
    centre, span = (lo + hi) / 2, hi - lo
    window = window_rad if window_rad is not None else (2 * np.pi if span > WRAP_ABOVE_RAD else 1.2 * span)
    twilight = colormaps["twilight"]
    if window >= 2 * np.pi:
        return Normalize(centre - np.pi, centre + np.pi), twilight.with_extremes(bad="white"), True
    cmap = ListedColormap(twilight(np.linspace(0.1, 0.9, 256)), name="twilight_central")
    return Normalize(centre - window / 2, centre + window / 2), cmap.with_extremes(bad="white"), False


def _wrap(phase: np.ndarray, norm) -> np.ndarray:
    centre = (norm.vmin + norm.vmax) / 2
    return np.mod(phase - centre + np.pi, 2 * np.pi) - np.pi + centre


def _draw_row(subfig, row: _Row, columns: list[str], window_rad) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    image_shape = row.phase["truth"].shape
    axes = _grid.panel_axes(subfig, [image_shape, image_shape], 1 + len(columns))
    phase_norm, phase_cmap, wrap = phase_display(row.phase["truth"], window_rad)
    amp_norm = Normalize(*_grid.finite_limits(row.amplitude["truth"], pad=0.05))
    gray = colormaps["gray"].with_extremes(bad="#f2e8dc")
    unit, scale = _grid.units_for(row.shape, row.pixel_m)
    x0, x1 = _grid.axis_extent(row.box[1], row.shape[1], row.pixel_m, scale)
    y0, y1 = _grid.axis_extent(row.box[0], row.shape[0], row.pixel_m, scale)
    extent = (x0, x1, y1, y0)
    images = [None, None]
    for j, name in enumerate(["truth", *columns]):
        phase, amplitude = row.phase.get(name, "not run"), row.amplitude.get(name, "not run")
        if isinstance(phase, str):
            _grid.empty_panel(axes[0, j], phase)
            _grid.empty_panel(axes[1, j], "")
        else:
            images[0] = _grid.show(axes[0, j], _wrap(phase, phase_norm) if wrap else phase, extent,
                                   phase_cmap, phase_norm)
            images[1] = _grid.show(axes[1, j], amplitude, extent, gray, amp_norm)
        if name in row.scores:
            axes[0, j].set_title(f"{name}\nSSIM = {row.scores[name]['ssim_phase']:.3f}")
            axes[1, j].set_title(f"SSIM = {row.scores[name]['ssim_amplitude']:.3f}")
        else:
            axes[0, j].set_title(name)
    _grid.label_outer(axes, f"x ({unit})", [f"phase\ny ({unit})", f"amplitude\ny ({unit})"])
    subfig.colorbar(images[0], ax=axes[0, :].tolist(), label="phase (rad)", shrink=0.9, aspect=12, pad=0.02)
    subfig.colorbar(images[1], ax=axes[1, :].tolist(), label="amplitude", shrink=0.9, aspect=12, pad=0.02)
    subfig.suptitle(row.label, x=0.01, ha="left", fontweight="bold")


def fig_object_panels(rows, path_stem, *, phase_window_rad: float | None = None) -> FigureOutput:
    """Phase (cyclic 'twilight') and amplitude ('gray') of the truth and each solver's aligned object.

    rows: list of ``(row_label, source, estimates)``: source a Dataset with ground truth (the region
    is :func:`cdibench.metrics.evaluate.illuminated_region`, blank outside; CDI allows the twin, other kinds
    fit a scale, as the record's scores do) or a complex truth object (n_y, n_x) (whole image, no
    twin, scale fitted); estimates: solver label -> Reconstruction (its ``object``) or a complex
    array (n_y, n_x). Each estimate is aligned by :func:`cdibench.metrics.align` (shift, phase ramp,
    global phase, scale/twin) and scored by :func:`cdibench.metrics.score_complex`; the phase SSIM
    and amplitude SSIM go in the panel titles. Phase colour limits: see :func:`phase_display`
    (``phase_window_rad`` overrides the window). Writes ``path_stem``.png and .pdf.

    Returns FigureOutput with values = {row_label: {solver label: score_complex dict}}.
    """
    if not rows:
        raise ValueError("rows is empty: expected at least one (label, truth, estimates) row")
    with paper_style():
        prepared = [_prepare(label, source, dict(estimates)) for label, source, estimates in rows]
        columns = _grid.column_labels(rows)
        shapes = [[r.phase["truth"].shape] * 2 for r in prepared]
        width, heights = _grid.figure_size(1 + len(columns), shapes)
        fig = new_figure(width, sum(heights))
        subfigs = fig.subfigures(len(prepared), 1, height_ratios=heights, squeeze=False)[:, 0]
        for subfig, row in zip(subfigs, prepared):
            _draw_row(subfig, row, columns, phase_window_rad)
        paths = save_figure(fig, path_stem)
    return FigureOutput(paths, fig, {r.label: r.scores for r in prepared})
