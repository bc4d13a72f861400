"""Paper style for every cdibench figure, and the one way figures are written (PNG + PDF, atomic).

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas: pyplot and its global state
are never touched, so figures can be made from threads, tests and servers alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cdibench.data.atomic import atomic_write

# Okabe & Ito (2008) colour-blind-safe palette, black last (used for the truth / thresholds).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
PNG_DPI = 200
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.2

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 9,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "lines.markersize": 3,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "legend.frameon": False,
    "image.interpolation": "nearest",
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text, accepted by journals
    "ps.fonttype": 42,
}


def paper_style():
    """Context manager applying :data:`STYLE` (and the Okabe-Ito colour cycle) to figures made and
    saved inside it; the caller's rcParams are restored on exit."""
    import matplotlib
    from cycler import cycler

    return matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=OKABE_ITO[:-1])})


def new_figure(width_in: float, height_in: float):
    """A constrained-layout ``Figure`` (width, height in inches) with its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@dataclass(frozen=True)
class FigureOutput:
    """What a figure function made: the files written (PNG then PDF), the Figure itself, and the
    numbers shown in it (e.g. the SSIM in each panel title) so callers and tests need not parse text."""

    paths: tuple[Path, ...]
    figure: object
    values: dict = field(default_factory=dict)


def slug(name: str) -> str:
    """A file-name-safe version of a case or solver name ('tomo[energy=0.5]' -> 'tomo_energy=0.5_')."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", str(name)).strip("_") or "unnamed"


def save_figure(fig, path_stem) -> tuple[Path, ...]:
    """Write ``fig`` to ``<path_stem>.png`` (PNG_DPI) and ``<path_stem>.pdf``, each atomically
    (temp file in the same folder, then ``os.replace``); the parent folder is created. Call inside
    :func:`paper_style` so the save-time settings (font embedding, margins) apply."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("png", "pdf"):
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_write(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=PNG_DPI)
        written.append(path)
    return tuple(written)


def length_unit(extent_m: float) -> tuple[str, float]:
    """(unit label, metres per unit) reading well for an image ``extent_m`` across: nm or um."""
    return ("nm", 1e-9) if extent_m < 2e-6 else ("\u00b5m", 1e-6)


def plain_log_ticks(axis) -> None:
    """Label a log-scaled ``axis`` (ax.xaxis / ax.yaxis) with plain numbers (0.2, not 2x10^-1);
    minor ticks 2, 3 and 5 x 10^k are labelled only when the axis spans less than a decade."""
    import math

    from matplotlib import ticker

    def minor(value, _):
        lo, hi = sorted(axis.get_view_interval())
        if value <= 0 or lo <= 0 or hi / lo > 10:
            return ""
        mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
        return f"{value:g}" if round(mantissa) in (2, 3, 5) and abs(mantissa - round(mantissa)) < 1e-6 else ""

    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.FuncFormatter(minor))
