"""All figures of a ``cdibench run`` output folder: ``make_figures(results_dir)``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cdibench import metrics
from cdibench.data.cxi import load_cxi
from cdibench.data.reconstruction import load_reconstruction
from cdibench.figures.curves import (
    fig_convergence,
    fig_resolution_curves,
    fig_speed_bars,
)
from cdibench.figures.objects import fig_object_panels
from cdibench.figures.style import OKABE_ITO, slug
from cdibench.figures.volume import fig_volume_panels
from cdibench.kinds import KINDS, kind
from cdibench.metrics.evaluate import (
    illuminated_region,
    measured_volume,
    volume_quantity,
)
from cdibench.phantoms import Phantom

CONTROL_SUFFIX = "-control"
CONVERGENCE_METRICS = ("nrmse", "ssim_phase", "ssim_in", "ssim")  # plotted where present, in this order


def load_records(results_dir) -> list[dict]:
    """Every readable ``results_dir/records/*.json`` (sorted by name); unreadable ones are skipped with
    a warning naming the file."""
    records = []
    for file in sorted(Path(results_dir, "records").glob("*.json")):
        try:
            record = json.loads(file.read_text())
            if not isinstance(record, dict) or "key" not in record or "case" not in record:
                raise ValueError("not a result record (no key/case)")
        except (OSError, ValueError) as exc:
            warnings.warn(f"{file}: skipped, unreadable record ({exc})", stacklevel=2)
            continue
        records.append(record)
    return records


def _label(record: dict) -> str:
    return str(record.get("label") or record.get("solver") or record["key"])


def _first_seed(records: list[dict]) -> dict[str, dict]:
    """Solver label -> the record of its lowest seed, in first-appearance order of the labels."""
    chosen: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: (r.get("seed") is None, r.get("seed") or 0)):
        chosen.setdefault(_label(record), record)
    order = list(dict.fromkeys(_label(r) for r in records))
    return {label: chosen[label] for label in order}


class _Store:
    """Cached reads of a results folder; a missing or unreadable file is None with a warning."""

    def __init__(self, results_dir: Path):
        self.root = results_dir
        self._datasets: dict[str, object] = {}

    def history(self, record: dict):
        path = self.root / "histories" / f"{record['key']}.csv"
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            warnings.warn(f"{path}: skipped, unreadable history ({exc})", stacklevel=3)
            return None

    def reconstruction(self, record: dict):
        path = self.root / "reconstructions" / f"{record['key']}.h5"
        if not path.is_file():
            return None
        try:
            rec, dataset_path = load_reconstruction(path)
        except ValueError as exc:
            warnings.warn(f"{path}: skipped ({exc})", stacklevel=3)
            return None
        if not record.get("dataset_path"):
            record["dataset_path"] = dataset_path
        return rec

    def dataset(self, record: dict):
        path = record.get("dataset_path") or ""
        if path not in self._datasets:
            self._datasets[path] = None
            try:
                ds = load_cxi(path) if path else None
                self._datasets[path] = ds if ds is not None and ds.truth is not None else None
            except (OSError, ValueError, TypeError) as exc:
                warnings.warn(f"{path}: dataset skipped ({exc})", stacklevel=3)
        return self._datasets[path]


def resolution_curve(dataset, reconstruction):
    """(freq, curve, threshold) of the estimate against the truth as :func:`cdibench.metrics.evaluate.score`
    computes it (FRC of the aligned object in the illuminated box for thin kinds, FSC in the measured
    volume otherwise), or None when the reconstruction lacks the quantity or its shape differs."""
    traits = kind(dataset.kind)
    if traits.scoring == "object":
        obj, truth = reconstruction.object, dataset.truth.object
        if obj is None or obj.shape != truth.shape:
            return None
        region = illuminated_region(dataset)
        rows, cols = np.nonzero(region)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        aligned, _ = metrics.align(obj, truth, region=region, twin=traits.twin, scale=not traits.twin)
        return metrics.frc(aligned[box] * region[box], truth[box] * region[box])
    name = volume_quantity(dataset)
    estimate, truth = getattr(reconstruction, name), getattr(dataset.truth, name)
    if estimate is None or estimate.shape != truth.shape:
        return None
    box, measured = measured_volume(dataset)
    return metrics.fsc(np.where(measured, estimate[box], 0), np.where(measured, truth[box], 0))


def distinct_colours(colors: dict, labels) -> dict:
    """The global label -> colour map restricted to ``labels``, with clashes (more solvers overall
    than colours) moved to colours no other label of this figure uses."""
    out, used = {}, set()
    spare = [c for c in OKABE_ITO[:-1]]
    for label in labels:
        colour = colors.get(label)
        if colour is None or colour in used:
            colour = next((c for c in spare if c not in used and c not in colors.values()), None) or \
                next(c for c in spare + list(OKABE_ITO[-1:]) if c not in used)
        out[label] = colour
        used.add(colour)
    return out


def _convergence(case: str, records: list[dict], store: _Store, out: Path, colors: dict) -> list[Path]:
    """One figure per case: every seed's history of every solver (lowest seed first)."""
    histories: dict[str, list] = {}
    for record in sorted(records, key=lambda r: (r.get("seed") is None, r.get("seed") or 0)):
        history = store.history(record)
        if history is not None and len(history):
            histories.setdefault(_label(record), []).append(history)
    if len(histories) < 2:
        return []
    present = [m for m in CONVERGENCE_METRICS
               if any(m in h and h[m].notna().any() for runs in histories.values() for h in runs)]
    chosen = [m for m in present if m.startswith("nrmse")][:1] + [m for m in present if m.startswith("ssim")][:1]
    figure = fig_convergence(histories, chosen or ["loss"], out / f"convergence-{slug(case)}", title=case,
                             colors=distinct_colours(colors, histories))
    return list(figure.paths)


def _per_case_images(case: str, records: dict[str, dict], store: _Store, out: Path, colors: dict) -> list[Path]:
    """FRC/FSC curves, and object panels for thin kinds, from the case's reconstructions."""
    recs = {label: rec for label, r in records.items() if (rec := store.reconstruction(r)) is not None}
    dataset = store.dataset(next(iter(records.values()))) if recs else None
    if dataset is None:
        return []
    paths = []
    curves = {label: c for label, rec in recs.items() if (c := resolution_curve(dataset, rec)) is not None}
    if curves:
        thin = kind(dataset.kind).scoring == "object"
        paths += fig_resolution_curves(curves, out / f"{'frc' if thin else 'fsc'}-{slug(case)}",
                                       kind="FRC" if thin else "FSC",
                                       pixel_size_m=dataset.geometry.object_pixel_m, title=case,
                                       colors=distinct_colours(colors, curves)).paths
    objects = {label: rec for label, rec in recs.items() if rec.object is not None}
    if kind(dataset.kind).figure == "object" and objects:
        paths += fig_object_panels([(case, dataset, objects)], out / f"objects-{slug(case)}").paths
    return paths


def _volume_row(case: str, records: dict[str, dict], store: _Store, control: bool):
    recs = {label: rec for label, r in records.items() if (rec := store.reconstruction(r)) is not None}
    dataset = store.dataset(next(iter(records.values()))) if recs else None
    if dataset is None:
        return None
    if control:
        return f"{case}: projection control", dataset, recs
    truth = dataset.truth
    ratio = Phantom(truth.delta, truth.beta, truth.voxel_size_m, dataset.geometry.energy_kev).dof_ratio()
    return f"{case}: thick, t/DOF = {ratio:.1f}", dataset, recs


def _volume_panels(by_case: dict[str, dict], kinds: dict[str, str], store: _Store, out: Path) -> list[Path]:
    """Volume panels of the tomography cases (the record's kind; none for a missing or unknown one)."""
    paths = []
    for case, records in by_case.items():
        traits = KINDS.get(kinds[case])
        if traits is None or not traits.tomography or (case.endswith(CONTROL_SUFFIX)
                                                       and case[:-len(CONTROL_SUFFIX)] in by_case):
            continue
        rows = [_volume_row(case, records, store, control=False)]
        if case + CONTROL_SUFFIX in by_case:
            rows.append(_volume_row(case + CONTROL_SUFFIX, by_case[case + CONTROL_SUFFIX], store, control=True))
        rows = [r for r in rows if r is not None]
        if rows:
            paths += fig_volume_panels(rows, out / f"volumes-{slug(case)}", views=("xz", "yx")).paths
    return paths


def make_figures(results_dir) -> list[Path]:
    """Write the figures of a ``cdibench run`` folder into ``results_dir/figures/``; return their paths.

    Reads ``records/*.json`` (unreadable files skipped with a warning; records with status other than
    "ok" left out) and, per case, the histories, reconstructions and datasets they name (missing ones
    skipped). Writes, each as PNG and PDF: ``convergence-<case>`` (cases with histories of more than
    one solver), ``speed`` (seconds per iteration, all records), ``frc-<case>``/``fsc-<case>`` and,
    for thin kinds, ``objects-<case>`` (cases with reconstructions and ground truth), and
    ``volumes-<case>`` for tomography kinds, with the ``<case>-control`` row when that case is in
    the results. Lowest seed per solver for the image figures; all seeds in the convergence plots.
    """
    results_dir = Path(results_dir)
    out = results_dir / "figures"
    ok = [r for r in load_records(results_dir) if r.get("status") == "ok"]
    if not ok:
        warnings.warn(f"{results_dir}: no record with status ok; no figure written", stacklevel=2)
        return []
    out.mkdir(parents=True, exist_ok=True)
    store = _Store(results_dir)
    cases = list(dict.fromkeys(r["case"] for r in ok))
    all_seeds = {case: [r for r in ok if r["case"] == case] for case in cases}
    by_case = {case: _first_seed(records) for case, records in all_seeds.items()}
    kinds = {case: next(iter(records.values())).get("kind", "") for case, records in by_case.items()}
    labels = list(dict.fromkeys(_label(r) for r in ok))  # one colour per solver in every figure
    colors = {label: OKABE_ITO[k % (len(OKABE_ITO) - 1)] for k, label in enumerate(labels)}
    paths: list[Path] = []
    for case in cases:
        paths += _convergence(case, all_seeds[case], store, out, colors)
    table = pd.DataFrame([{k: r.get(k) for k in ("case", "label", "device", "s_per_iteration", "status")}
                          | {"label": _label(r)} for r in ok])
    if np.isfinite(pd.to_numeric(table["s_per_iteration"], errors="coerce")).any():
        paths += fig_speed_bars(table, out / "speed").paths
    for case in cases:
        paths += _per_case_images(case, by_case[case], store, out, colors)
    paths += _volume_panels(by_case, kinds, store, out)
    return paths
