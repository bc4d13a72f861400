"""Shared pieces of the image-panel figures: rows of panels as subfigures, extents, empty panels."""

from __future__ import annotations

import numpy as np

from cdibench.figures.style import DOUBLE_COLUMN_IN, length_unit

PANEL_IN = 1.35  # width of one image panel [in]
TITLE_IN = 0.42  # room for a two-line panel title and the row's heading [in]
COLORBAR_IN = 0.75


def column_labels(rows) -> list[str]:
    """Union of the estimate labels over all rows, in order of first appearance."""
    return list(dict.fromkeys(label for _, _, estimates in rows for label in estimates))


def figure_size(n_columns: int, view_shapes: list[list[tuple[int, int]]]) -> tuple[float, list[float]]:
    """(width [in], height of each row [in]) for rows of image panels of the given (n_y, n_x) shapes."""
    width = min(DOUBLE_COLUMN_IN, PANEL_IN * n_columns + COLORBAR_IN)
    panel = (width - COLORBAR_IN) / n_columns
    heights = [sum(panel * max(h / w, 0.25) for h, w in shapes) + TITLE_IN * len(shapes) + 0.2
               for shapes in view_shapes]
    return width, heights


def panel_axes(subfig, shapes: list[tuple[int, int]], n_columns: int) -> np.ndarray:
    """A (len(shapes), n_columns) grid of axes in ``subfig``, row heights following the image shapes."""
    ratios = [max(h / w, 0.25) for h, w in shapes]
    return subfig.subplots(len(shapes), n_columns, squeeze=False, gridspec_kw={"height_ratios": ratios})


def axis_extent(index: slice, n: int, pixel_m: float | None, scale: float) -> tuple[float, float]:
    """Edges of the pixels ``index`` of an axis of length ``n``, centred on pixel n // 2, in plot units."""
    start, stop, _ = index.indices(n)
    step = pixel_m / scale if pixel_m else 1.0
    return (start - n // 2 - 0.5) * step, (stop - n // 2 - 0.5) * step


def units_for(shape: tuple[int, ...], pixel_m: float | None) -> tuple[str, float]:
    """Axis unit label and metres per unit for an array of ``shape`` sampled at ``pixel_m`` (px if None)."""
    if not pixel_m:
        return "px", 1.0
    return length_unit(max(shape) * pixel_m)


def empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def show(ax, image, extent, cmap, norm):
    """imshow with our conventions: nearest pixels, extent in physical units, NaN in the bad colour."""
    im = ax.imshow(image, extent=extent, cmap=cmap, norm=norm, interpolation="nearest", aspect="equal")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(True)
    return im


def finite_limits(*images, pad: float = 0.0) -> tuple[float, float]:
    """(min, max) over the finite values of ``images``, padded by ``pad`` of the range; never empty."""
    values = np.concatenate([np.asarray(a, np.float64)[np.isfinite(a)].ravel() for a in images])
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    if span <= 0:
        span = max(abs(lo), 1e-12)
        return lo - span / 2, hi + span / 2
    return lo - pad * span, hi + pad * span


def label_outer(axes: np.ndarray, xlabel: str, ylabels: list[str]) -> None:
    """Axis labels on the left column and bottom row only; tick labels hidden elsewhere."""
    n_rows, n_cols = axes.shape
    for i in range(n_rows):
        for j in range(n_cols):
            ax = axes[i, j]
            if not ax.images:
                continue
            if j == 0:
                ax.set_ylabel(ylabels[i])
            else:
                ax.tick_params(labelleft=False)
            if i == n_rows - 1:
                ax.set_xlabel(xlabel)
            else:
                ax.tick_params(labelbottom=False)
