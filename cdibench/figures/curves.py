"""Line and bar figures: convergence histories, seconds per iteration, FRC/FSC resolution curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cdibench import metrics
from cdibench.figures.style import (DOUBLE_COLUMN_IN, OKABE_ITO, SINGLE_COLUMN_IN, FigureOutput, new_figure,
                                    paper_style, plain_log_ticks, save_figure)

METRIC_LABELS = {
    "nrmse": "NRMSE", "nrmse_in": "NRMSE inside sample", "ssim": "SSIM", "ssim_in": "SSIM inside sample",
    "ssim_phase": "SSIM (phase)", "ssim_amplitude": "SSIM (amplitude)", "loss": "loss",
}
LOG_TIME_SPREAD = 20.0  # final wall times of the solvers differ more than this: log time axis


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _is_log_metric(metric: str) -> bool:
    return metric.startswith("nrmse") or metric == "loss"


def _runs(value) -> list[pd.DataFrame]:
    """A history or a sequence of histories (seeds) -> list of DataFrames."""
    if isinstance(value, pd.DataFrame):
        return [value]
    if isinstance(value, Mapping):
        return [pd.DataFrame(value)]
    return [v if isinstance(v, pd.DataFrame) else pd.DataFrame(v) for v in value]


def _points(history: pd.DataFrame, x: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    if metric not in history or x not in history:
        return np.empty(0), np.empty(0)
    keep = history[metric].notna() & history[x].notna()
    if _is_log_metric(metric):
        keep &= history[metric] > 0
    return history.loc[keep, x].to_numpy(float), history.loc[keep, metric].to_numpy(float)


def _colours(labels, colors: Mapping | None) -> dict:
    """label -> colour: from ``colors`` where given, else the Okabe-Ito cycle in order."""
    cycle = OKABE_ITO[:-1]
    return {label: (colors or {}).get(label, cycle[k % len(cycle)]) for k, label in enumerate(labels)}


def fig_convergence(histories: Mapping, metric, path_stem, *, title: str | None = None,
                    colors: Mapping | None = None) -> FigureOutput:
    """Metric against wall time (left) and against iteration (right), one line per solver.

    histories: solver label -> history DataFrame (columns iteration, wall_s [s], loss and metric
    columns, NaN where not evaluated) or a list of them (seeds: same colour, the first labelled).
    metric: a column name or a list of them (one row of panels each). Log y for NRMSE and the loss;
    log time axis when the solvers' final wall times differ by more than LOG_TIME_SPREAD. colors:
    optional label -> colour, to keep a solver's colour across figures. Writes
    ``path_stem``.png and .pdf. Returns FigureOutput with values = {metric: {label: last value}}.
    """
    from matplotlib.ticker import MaxNLocator

    metric_list = [metric] if isinstance(metric, str) else list(metric)
    if not metric_list or not histories:
        raise ValueError("fig_convergence needs at least one metric and one history")
    runs = {label: _runs(h) for label, h in histories.items()}
    colours = _colours(runs, colors)
    finals = [float(h["wall_s"].dropna().iloc[-1]) for rs in runs.values() for h in rs
              if "wall_s" in h and h["wall_s"].notna().any() and h["wall_s"].dropna().iloc[-1] > 0]
    log_time = bool(finals) and max(finals) / min(finals) > LOG_TIME_SPREAD
    values: dict = {}
    with paper_style():
        fig = new_figure(DOUBLE_COLUMN_IN * 0.75, 0.4 + 1.9 * len(metric_list))
        axes = fig.subplots(len(metric_list), 2, squeeze=False)
        for i, name in enumerate(metric_list):
            values[name] = {}
            for label, rs in runs.items():
                colour = colours[label]
                for s, history in enumerate(rs):
                    for j, x in enumerate(("wall_s", "iteration")):
                        xs, ys = _points(history, x, name)
                        style = dict(color=colour, alpha=1.0 if s == 0 else 0.45,
                                     marker="o" if len(xs) <= 3 else None)
                        axes[i, j].plot(xs, ys, label=label if (s == 0 and j == 0) else None, **style)
                        if s == 0 and j == 1 and len(ys):
                            values[name][label] = float(ys[-1])
            for j, ax in enumerate(axes[i]):
                ax.set_ylabel(metric_label(name))
                if _is_log_metric(name):
                    ax.set_yscale("log")
                    plain_log_ticks(ax.yaxis)
                ax.set_xlabel("wall time (s)" if j == 0 else "iteration")
                if j == 1:
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.grid(True, which="major")
            if log_time:
                axes[i, 0].set_xscale("log")
                plain_log_ticks(axes[i, 0].xaxis)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4))
        if title:
            fig.suptitle(title)
        paths = save_figure(fig, path_stem)
    return FigureOutput(paths, fig, values)


def fig_speed_bars(df: pd.DataFrame, path_stem, *, title: str | None = None) -> FigureOutput:
    """Seconds per iteration of each solver, bars coloured by device, one panel per case (log y).

    df: records table with columns "label", "device", "s_per_iteration" and "case" (rows with a
    "status" other than "ok", or no finite positive s_per_iteration, are left out); several seeds
    are summarised by their median. Writes ``path_stem``.png and .pdf. Returns FigureOutput with
    values = {(case, label, device): median s/iteration}.
    """
    missing = {"label", "device", "s_per_iteration", "case"} - set(df.columns)
    if missing:
        raise ValueError(f"records table lacks columns {sorted(missing)}; expected label, device, "
                         "s_per_iteration, case")
    data = df[df["status"] == "ok"] if "status" in df.columns else df
    data = data.assign(device=data["device"].fillna("unknown").astype(str),
                       s_per_iteration=pd.to_numeric(data["s_per_iteration"], errors="coerce"))
    data = data[np.isfinite(data["s_per_iteration"]) & (data["s_per_iteration"] > 0)]
    if data.empty:
        raise ValueError("no record with status ok and a positive s_per_iteration to plot")
    table = data.groupby(["case", "label", "device"], sort=False)["s_per_iteration"].median()
    cases = list(dict.fromkeys(data["case"]))
    devices = list(dict.fromkeys(data["device"]))
    n_cols = min(len(cases), 3)
    n_rows = -(-len(cases) // n_cols)
    with paper_style():
        fig = new_figure(min(DOUBLE_COLUMN_IN, 0.4 + 2.3 * n_cols), 0.5 + 2.0 * n_rows)
        axes = fig.subplots(n_rows, n_cols, squeeze=False)
        for ax in axes.ravel()[len(cases):]:
            ax.set_visible(False)
        width = 0.8 / len(devices)
        for ax, case in zip(axes.ravel(), cases):
            labels = list(dict.fromkeys(data.loc[data["case"] == case, "label"]))
            x = np.arange(len(labels))
            for d, device in enumerate(devices):
                heights = [table.get((case, label, device), np.nan) for label in labels]
                bars = ax.bar(x + (d - (len(devices) - 1) / 2) * width, heights, width * 0.92,
                              color=OKABE_ITO[d % (len(OKABE_ITO) - 1)], label=device)
                ax.bar_label(bars, labels=[f"{h:.2g}" if np.isfinite(h) else "" for h in heights],
                             fontsize=6, padding=1)
            ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor")
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.set_yscale("log")
            ax.margins(y=0.15)
            plain_log_ticks(ax.yaxis)
            ax.set_ylabel("time per iteration (s)")
            ax.set_title(case)
            ax.grid(True, axis="y", which="major")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center",
                   ncols=min(len(devices), 3), title="device")
        if title:
            fig.suptitle(title)
        paths = save_figure(fig, path_stem)
    return FigureOutput(paths, fig, {key: float(v) for key, v in table.items()})


def fig_resolution_curves(curves: Mapping[str, Sequence], path_stem, *, kind: str = "FRC",
                          pixel_size_m: float | None = None, title: str | None = None,
                          colors: Mapping | None = None) -> FigureOutput:
    """Fourier ring/shell correlation of each solver against the truth, with the 1/2-bit threshold.

    curves: solver label -> ``(freq [cycles/px], curve, threshold)`` as from
    :func:`cdibench.metrics.frc`/``fsc``; kind: "FRC" or "FSC" (axis label); pixel_size_m: adds the
    resolution in nm to the legend. The threshold is drawn once (dashed black) when all solvers share
    it, else per solver. colors: optional label -> colour. Writes ``path_stem``.png and .pdf.
    Returns FigureOutput with values = {label: (resolution_px, resolution_m or None)} from
    :func:`cdibench.metrics.resolution`.
    """
    if not curves:
        raise ValueError("curves is empty: expected label -> (freq, curve, threshold)")
    items = {label: tuple(np.asarray(a, np.float64) for a in c) for label, c in curves.items()}
    thresholds = [t for _, _, t in items.values()]
    shared = all(t.shape == thresholds[0].shape and np.allclose(t, thresholds[0]) for t in thresholds)
    values = {}
    colours = _colours(items, colors)
    with paper_style():
        fig = new_figure(SINGLE_COLUMN_IN, 2.6)
        ax = fig.subplots()
        ax.axhline(0, color="0.6", linewidth=0.5)
        for label, (freq, curve, threshold) in items.items():
            colour = colours[label]
            res_px, res_m = metrics.resolution(freq, curve, threshold, pixel_size_m)
            values[label] = (res_px, res_m)
            text = f"{res_m * 1e9:.3g} nm" if res_m is not None else f"{res_px:.3g} px"
            ax.plot(freq, curve, color=colour, label=f"{label} ({text})")
            if not shared:
                ax.plot(freq, threshold, color=colour, linestyle="--", linewidth=0.7)
        if shared:
            freq = next(iter(items.values()))[0]
            ax.plot(freq, thresholds[0], color="k", linestyle="--", linewidth=0.7, label="1/2-bit threshold")
        ax.set_xlim(0, 0.5)
        ax.set_ylim(min(-0.1, min(float(np.min(c)) for _, c, _ in items.values())), 1.05)
        ax.set_xlabel("spatial frequency (1/px)")
        ax.set_ylabel(kind)
        ax.legend(loc="lower left")
        if title:
            ax.set_title(title)
        paths = save_figure(fig, path_stem)
    return FigureOutput(paths, fig, values)
