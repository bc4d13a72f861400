"""The solver registry and the baseline adapters on simulated datasets (scores after alignment)."""

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from cdibench.data.spec import load_spec
from cdibench.harness.reconstruct import reconstruct
from cdibench.kinds import KINDS
from cdibench.metrics.evaluate import score
from cdibench.simulation import simulate
from cdibench.solvers.registry import SOLVERS, solver_config

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


@lru_cache(maxsize=None)
def dataset(name):
    return simulate(load_spec(DATASETS / f"{name}.toml"))


def _scores(name, solver, **options):
    ds = dataset(name)
    rec = reconstruct(ds, solver, solver_config(solver, options), progress=False)
    assert rec.status == "ok", rec.message
    assert len(rec.history["wall_s"]) >= 1 and np.all(np.diff(rec.history["wall_s"]) >= 0)
    return rec, score(ds, rec)


def test_registry_covers_every_kind():
    covered = {kind for info in SOLVERS.values() for kind in info.kinds}
    assert covered == set(KINDS)
    assert {"hio", "er", "epie", "fbp", "ptycho-fbp"} <= set(SOLVERS)


def test_unknown_solver_and_option_are_named():
    with pytest.raises(ValueError, match="solver = 'hoi'"):
        solver_config("hoi")
    with pytest.raises(ValueError, match="itterations"):
        solver_config("epie", {"itterations": 3})
    with pytest.raises(TypeError, match="alpha"):
        solver_config("epie", {"alpha": "big"})


def test_wrong_kind_is_refused():
    with pytest.raises(ValueError, match="kinds"):
        reconstruct(dataset("quick-cdi"), "epie", progress=False)


def test_hio_on_noisy_cdi():
    """HIO/ER cycles with the known support on Poisson data: measured NRMSE 0.0009."""
    _, scores = _scores("quick-cdi", "hio", iterations=300)
    assert scores["nrmse"] <= 0.05


def test_epie_on_quick_ptychography_from_flat_disk():
    """ePIE from the flat-phase disk guess on Poisson data simulated on a 2x finer grid."""
    rec, scores = _scores("quick-ptycho-far", "epie", iterations=60)
    nrmse = rec.history["nrmse"][~np.isnan(rec.history["nrmse"])]
    assert nrmse[-1] < 0.5 * nrmse[0]
    assert scores["nrmse"] <= 0.1


def test_fbp_on_fullfield_tomography():
    """-log(I/I0) and FBP recover beta inside the sample (64 angles, 64 px: some streaks)."""
    _, scores = _scores("quick-fullfield-tomo", "fbp")
    assert scores["ssim_in"] >= 0.7


def test_conventional_pipeline_thin_control_vs_thick():
    """The conventional ePIE -> FBP pipeline does well on the projection-approximation control and
    measurably worse beyond the depth of focus (thickness/DOF 7)."""
    _, control = _scores("quick-multislice-tomo-control", "ptycho-fbp", refocus_fraction=0.0)
    _, thick = _scores("quick-multislice-tomo", "ptycho-fbp", refocus_fraction=0.0)
    assert control["ssim_in"] >= 0.8
    assert thick["ssim_in"] <= control["ssim_in"] - 0.2


@pytest.mark.parametrize("n_slices", [16, 48])
def test_a_volume_of_another_depth_than_the_truth_is_scored_centred(n_slices):
    """An AD volume of n_slices (a config option) is scored against the 32-deep truth, cropped or
    zero-padded about the centre slice (it used to fail: shapes did not broadcast)."""
    from cdibench.metrics.evaluate import fit_depth, metric_function

    ds = dataset("quick-multislice")
    truth = ds.truth.delta
    estimate = fit_depth(truth, n_slices)
    assert estimate.shape[0] == n_slices
    scores = metric_function(ds)({"delta": estimate})
    if n_slices > len(truth):  # the whole truth fits: crop it back, a perfect score
        assert scores["nrmse"] == pytest.approx(0.0, abs=1e-6)
    else:  # the central 16 of 32 slices kept, the rest zero: an error, but a finite one
        np.testing.assert_array_equal(estimate, truth[8:24])
        assert 0 < scores["nrmse"] < 1
    rec = reconstruct(ds, "ad-multislice", solver_config("ad-multislice", {"iterations": 2, "n_slices": n_slices}),
                      progress=False)
    assert rec.delta.shape[0] == n_slices and np.isfinite(score(ds, rec)["nrmse"])


@pytest.mark.parametrize("name", list(SOLVERS))
def test_declarations_name_real_options_with_meanings_and_valid_ranges(name):
    """Every option has its one-line meaning; defaults and tunable ranges name options of the
    solver's config, and both ends of every range are accepted values."""
    import dataclasses

    from cdibench.config import meaning

    solver = SOLVERS[name]
    fields = {f.name: f for f in dataclasses.fields(solver.config)}
    assert solver.description and set(solver.kinds) <= set(KINDS)
    assert all(meaning(f) for f in fields.values()), [f for f in fields if not meaning(fields[f])]
    assert set(solver.defaults) <= set(fields) and set(solver.tunable) <= set(fields)
    for option, bounds in solver.tunable.items():
        for value in (bounds.low, bounds.high):
            solver_config(name, {option: int(value) if bounds.integer else float(value)})


def test_registry_refuses_a_second_solver_of_one_name_and_names_the_known_ones():
    from cdibench.solvers.registry import get_solver, register

    with pytest.raises(ValueError, match="'epie' is already registered"):
        register(SOLVERS["epie"])
    with pytest.raises(ValueError, match="'hoi' is unknown: expected one of hio, er"):
        get_solver("hoi")


def test_listing_the_solvers_and_their_options_loads_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from cdibench.cli import main; main(['solvers']); main(['solvers', 'ad-tomo']); "
            "import cdibench.harness.memory, cdibench.harness.floor; "
            "assert 'tensorflow' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("name, case", [("hio", "quick-cdi"), ("er", "quick-cdi"), ("epie", "quick-ptycho-far"),
                                        ("rpie", "quick-ptycho-far"), ("ad-cdi", "quick-cdi")])
def test_step_is_one_iteration_of_run(name, case):
    """``step`` runs the iterations ``run`` loops over: from one set-up, k steps give the losses of
    a k-iteration run, exactly (same random draws, same arithmetic)."""
    from cdibench.data.validate import validate_dataset

    config = solver_config(name, {"iterations": 4, "hio_iter": 2, "er_iter": 1} if name == "hio" else {"iterations": 4})
    ds = validate_dataset(dataset(case))
    state = SOLVERS[name].setup(ds, config, None)
    steps = [SOLVERS[name].step(state) for _ in range(4)]
    rec = reconstruct(ds, name, config, progress=False)
    np.testing.assert_array_equal(rec.history["loss"], np.array(steps, np.float64))
