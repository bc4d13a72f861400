"""Paper figures from cdibench results (matplotlib, Agg canvas, pyplot never touched).

Every figure function writes ``<path_stem>.png`` (200 dpi) and ``<path_stem>.pdf`` atomically in
the paper style (:mod:`.style`) and returns a :class:`FigureOutput` (paths, the Figure, the numbers
shown). Modules: :mod:`.style` (rcParams, saving), :mod:`.volume` (central slices of volumes),
:mod:`.objects` (phase/amplitude of 2D objects), :mod:`.curves` (convergence, speed, FRC/FSC),
:mod:`.results` (``make_figures`` over a ``cdibench run`` folder).
"""

from cdibench.figures.curves import (
    fig_convergence,
    fig_resolution_curves,
    fig_speed_bars,
)
from cdibench.figures.objects import fig_object_panels, phase_display
from cdibench.figures.results import load_records, make_figures, resolution_curve
from cdibench.figures.style import STYLE, FigureOutput, paper_style, save_figure
from cdibench.figures.volume import fig_volume_panels

__all__ = [
    "STYLE", "FigureOutput", "fig_convergence", "fig_object_panels", "fig_resolution_curves",
    "fig_speed_bars", "fig_volume_panels", "load_records", "make_figures", "paper_style",
    "phase_display", "resolution_curve", "save_figure",
]
