"""Scaling report: the log-log slope fit, the table and its bar, and the asv route
(``cdibench report`` on an asv results folder)."""

import json

import numpy as np
import pandas as pd
import pytest

from cdibench.cli import main
from cdibench.report.asv import asv_results, is_asv_results
from cdibench.report.scaling import asv_timings, fit_loglog_slope, scaling_markdown, scaling_table

X = np.array([36, 64, 144, 324, 576], float)


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_fit_recovers_exponent_exactly_without_noise(exponent):
    fit = fit_loglog_slope(X, 3e-3 * X ** exponent)
    assert fit.slope == pytest.approx(exponent, abs=1e-12)
    assert fit.slope_se == pytest.approx(0, abs=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.n_points == 5


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_fit_recovers_exponent_with_noise(exponent):
    """5 % log-normal noise on 5 points over a 16x range (slope sd 0.022): the slope lands within
    0.1 of the truth in each of 200 seeded draws, and the standard error is the draws' spread."""
    slopes, ses = [], []
    for seed in range(200):
        noise = np.exp(np.random.default_rng(seed).normal(0, 0.05, X.size))
        fit = fit_loglog_slope(X, 3e-3 * X ** exponent * noise)
        assert abs(fit.slope - exponent) < 0.1
        assert fit.r2 > 0.97
        slopes.append(fit.slope)
        ses.append(fit.slope_se)
    # the reported standard error matches the scatter of the slope across draws (within 25 %)
    assert np.mean(ses) == pytest.approx(np.std(slopes), rel=0.25)


def test_fit_of_constant_time_and_two_points():
    flat = fit_loglog_slope([1, 4, 16], [2.0, 2.0, 2.0])
    assert flat.slope == 0 and np.isnan(flat.r2)
    two = fit_loglog_slope([10, 20], [1.0, 2.0])
    assert two.slope == pytest.approx(1.0) and np.isnan(two.slope_se) and np.isnan(two.r2)


@pytest.mark.parametrize("x, t, match", [([1, 2], [1.0, 0.0], "> 0"), ([3, 3], [1.0, 2.0], "distinct"),
                                         ([1, 2, 3], [1.0, 2.0], "equal length")])
def test_fit_rejects_bad_input(x, t, match):
    with pytest.raises(ValueError, match=match):
        fit_loglog_slope(x, t)


def _timings(benchmark, parameter, x, seconds, fixed=""):
    return pd.DataFrame({"benchmark": benchmark, "parameter": parameter, "fixed": fixed, "x": x,
                         "seconds": seconds})


def test_table_flags_super_linear_series_only():
    timings = pd.concat([
        _timings("ad-ptycho epoch", "n_positions", X, 1e-4 * X),                 # linear: met
        _timings("epie sweep", "n_positions", X, 1e-6 * X ** 1.5),              # injected: over the bar
        _timings("ad-ptycho epoch", "pattern_px", [64, 128, 256], [1, 4, 16]),  # slope 2, no bar
        _timings("one point", "n_angles", [4], [1.0]),                          # not fitted
    ], ignore_index=True)
    table = scaling_table(timings).set_index(["benchmark", "parameter"])
    assert len(table) == 3
    assert table.loc[("epie sweep", "n_positions"), "slope"] == pytest.approx(1.5)
    assert table["over_bar"].to_dict() == {("ad-ptycho epoch", "n_positions"): False,
                                           ("ad-ptycho epoch", "pattern_px"): False,
                                           ("epie sweep", "n_positions"): True}
    text = scaling_markdown(scaling_table(timings))
    assert "## Scaling" in text and "1 of 2 barred fits over the bar" in text
    lines = {line.split("|")[1].strip() + " " + line.split("|")[3].strip(): line for line in text.splitlines()
             if line.startswith("| ") and ("epoch" in line or "sweep" in line)}
    assert "**<= 1.1 OVER BAR**" in lines["epie sweep n_positions"]
    assert "<= 1.1 met" in lines["ad-ptycho epoch n_positions"]
    assert "| 1.50 |" in lines["epie sweep n_positions"]
    assert "met" not in lines["ad-ptycho epoch pattern_px"] and "OVER" not in lines["ad-ptycho epoch pattern_px"]


def _write_asv(folder, seconds_by_positions: dict):
    """An asv results folder: benchmarks.json, one machine, one commit of a (solver, n_positions)
    benchmark (ad's last point failed: null)."""
    machine = folder / "box"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text(json.dumps({"machine": "box", "version": 1}))
    name = "bench_scaling.PositionsScaling.time_iteration"
    (folder / "benchmarks.json").write_text(json.dumps({name: {
        "type": "time", "unit": "seconds", "param_names": ["solver", "n_positions"],
        "params": [["'epie'", "'ad'"], [str(n) for n in seconds_by_positions]]}, "version": 2}))
    epie = list(seconds_by_positions.values())
    ad = [0.01 * n for n in seconds_by_positions][:-1] + [None]
    data = {"commit_hash": "c0ffee0011223344", "env_name": "existing-py", "date": 1.7e12,
            "params": {"machine": "box"}, "python": "3.11", "requirements": {}, "env_vars": {},
            "result_columns": ["result", "params"], "version": 2,
            "results": {name: [epie + ad, [["'epie'", "'ad'"], [str(n) for n in seconds_by_positions]]]}}
    (machine / "c0ffee00-existing-py.json").write_text(json.dumps(data))


def test_asv_timings_per_numeric_parameter(tmp_path):
    _write_asv(tmp_path, {36: 0.36, 144: 1.44, 576: 5.76})
    df = asv_results(tmp_path)
    assert df["param_names"].iloc[0] == ("solver", "n_positions")
    timings = asv_timings(df)
    assert set(timings["parameter"]) == {"n_positions"}  # the solver is categorical
    assert sorted(timings["fixed"].unique()) == ["solver=ad", "solver=epie"]
    table = scaling_table(timings).set_index("fixed")
    assert table.loc["solver=epie", "slope"] == pytest.approx(1.0)
    assert table.loc["solver=ad", "n_points"] == 2  # the failed point is left out


def test_cli_report_on_asv_results_prints_scaling_and_flags(tmp_path, capsys):
    _write_asv(tmp_path, {36: 0.036, 144: 0.144 * 4, 576: 0.576 * 16})  # epie: t ~ n^2
    assert is_asv_results(tmp_path) and is_asv_results(tmp_path / "box") and not is_asv_results(tmp_path / "no")
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## Scaling" in out and "1 of 2 barred fits over the bar" in out
    epie = next(line for line in out.splitlines() if "solver=epie" in line)
    assert "| 2.00 |" in epie and "OVER BAR" in epie
