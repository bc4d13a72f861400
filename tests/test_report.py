"""cdibench.report: records -> tables, best marking, comparisons and regressions, asv results."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from cdibench.report import (asv_results, better, compare, has_regression, load_history, load_records, load_table,
                             report_text, save_table, summary_table, to_html, to_markdown)

PROVENANCE = {"cdibench_version": "0.1.0", "git_commit": "abc123", "python": "3.12", "numpy": "2.0",
              "device": "CPU", "n_cpus": 8}


def record(case="quick-cdi", label="hio", seed=0, s_per_iteration=0.01, nrmse=0.05, ssim=0.80,
           status="ok", kind="cdi", device="CPU", ttt=0.5):
    """A record as the runner writes it (failed runs carry no timings, metrics or device)."""
    key = f"{case}-{label}-{seed}".replace(" ", "_")
    rec = {"key": key, "suite": "quick", "case": case, "kind": kind, "solver": label.split(" ")[0],
           "label": label, "config": {"iterations": 100, "beta": 0.9}, "config_hash": "h" + key, "seed": seed,
           "status": status, "error": "", "started": "2024-01-01T00:00:00+00:00", "provenance": PROVENANCE}
    if status == "failed":
        return {**rec, "error": "RuntimeError: out of memory\nTraceback ...", "total_s": 0.1}
    return {**rec, "iterations": 100, "wall_s": 100 * s_per_iteration, "s_per_iteration": s_per_iteration,
            "total_s": 100 * s_per_iteration + 1.0, "peak_memory_mb": 800.0, "memory_increase_mb": 30.0,
            "metrics": {"nrmse": nrmse, "ssim_phase": ssim, "psnr_phase": 20.0, "shift_x_px": 0.1},
            "time_to_target": {"nrmse<=0.1": ttt, "nrmse<=0.01": None}, "device": device}


def standard_records(slow=1.0, nrmse_er=0.10):
    """Two solvers x two seeds on one case; slow scales ad's time per iteration."""
    return [record(label="hio", seed=s, s_per_iteration=0.010, nrmse=0.05 + 0.01 * s, ssim=0.80) for s in (0, 1)] + \
           [record(label="er", seed=s, s_per_iteration=0.004, nrmse=nrmse_er, ssim=0.70) for s in (0, 1)] + \
           [record(label="ad (adam)", seed=s, s_per_iteration=0.020 * slow, nrmse=0.03, ssim=0.90) for s in (0, 1)]


def write_results(folder, records, torn=False):
    (folder / "records").mkdir(parents=True, exist_ok=True)
    (folder / "histories").mkdir(exist_ok=True)
    for rec in records:
        (folder / "records" / f"{rec['key']}.json").write_text(json.dumps(rec))
    if torn:  # a run killed mid-write
        (folder / "records" / "torn.json").write_text('{"key": "torn", "case": "quick-cdi", "metr')
    return folder


def test_load_records_flattens_and_skips_torn_files(tmp_path):
    recs = standard_records() + [record(label="hio", seed=2, status="failed")]
    folder = write_results(tmp_path / "run", recs, torn=True)
    with pytest.warns(UserWarning, match="torn.json"):
        df = load_records(folder)
    assert len(df) == 7
    assert {"metric.nrmse", "metric.ssim_phase", "ttt.nrmse<=0.1", "ttt.nrmse<=0.01", "prov.git_commit"} <= set(df)
    assert df["ttt.nrmse<=0.01"].isna().all() and df["ttt.nrmse<=0.1"].dtype == np.float64
    failed = df[df["status"] == "failed"].iloc[0]
    assert np.isnan(failed["s_per_iteration"]) and failed["device"] == "CPU"  # device filled in
    assert json.loads(df["config"].iloc[0]) == {"beta": 0.9, "iterations": 100}


def test_load_records_errors_name_the_folder(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "empty"))):
        load_records(tmp_path / "empty")
    folder = write_results(tmp_path / "only-torn", [], torn=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="no result records"):
            load_records(folder)


def test_load_history(tmp_path):
    folder = write_results(tmp_path, standard_records())
    pd.DataFrame({"iteration": [0, 1], "loss": [1.0, 0.5], "wall_s": [0.0, 0.1],
                  "nrmse": [np.nan, 0.2]}).to_csv(folder / "histories" / "k.csv", index=False)
    history = load_history(folder, "k")
    assert list(history.columns) == ["iteration", "loss", "wall_s", "nrmse"] and np.isnan(history["nrmse"][0])
    with pytest.raises(ValueError, match="missing"):
        load_history(folder, "missing")


def test_directions():
    assert better("metric.nrmse_in") == better("metric.resolution_px") == better("ttt.ssim>=0.8") == "lower"
    assert better("s_per_iteration") == better("peak_memory_mb") == better("wall_s") == "lower"
    assert better("metric.ssim_phase") == better("metric.psnr") == "higher"
    assert better("metric.shift_x_px") is None and better("iterations") is None


def test_summary_aggregates_seeds_and_shows_failures(tmp_path):
    recs = standard_records() + [record(label="hio", seed=2, status="failed")]
    table = summary_table(load_records(write_results(tmp_path, recs)))
    assert len(table) == 3 and list(table["case"].unique()) == ["quick-cdi"]
    hio = table.set_index("label").loc["hio"]
    assert (hio["n"], hio["ok"]) == (3, 2) and hio["status"] == "2/3 ok, 1 failed"
    assert hio["metric.nrmse"] == pytest.approx(0.055)  # mean over the ok seeds
    assert hio["s_per_iteration"] == pytest.approx(0.010)
    assert "metric.shift_x_px" not in table  # alignment by-product, not a score
    assert np.isnan(hio["ttt.nrmse<=0.01"]) and hio["ttt.nrmse<=0.1"] == pytest.approx(0.5)


def test_summary_ttt_needs_every_seed():
    recs = [record(seed=0, ttt=1.0), record(seed=1, ttt=None)]
    from cdibench.report import records_frame
    table = summary_table(records_frame(recs))
    assert np.isnan(table["ttt.nrmse<=0.1"].iloc[0])


def _markdown_cells(text, label):
    row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_markdown_marks_best_per_direction(tmp_path):
    table = summary_table(load_records(write_results(tmp_path, standard_records())))
    text = to_markdown(table)
    lines = text.splitlines()
    assert "### quick-cdi (cdi)" in lines
    head = [c.strip() for c in next(l for l in lines if l.startswith("| label")).strip("|").split("|")]
    nrmse, ssim, speed = head.index("nrmse"), head.index("ssim_phase"), head.index("per iteration [s]")
    assert "solve [s]" in head and "peak memory [MB]" in head and "time to nrmse<=0.1 [s]" in head
    ad, hio, er = (_markdown_cells(text, label) for label in ("ad (adam)", "hio", "er"))
    assert ad[nrmse] == "**0.03**" and ad[ssim] == "**0.9**"  # lowest nrmse, highest ssim
    assert hio[nrmse] == "0.055" and er[ssim] == "0.7"
    assert er[speed] == "**0.004**" and ad[speed] == "0.02"
    assert "**" not in ad[head.index("iterations")]  # no direction: never marked
    assert "**" not in to_markdown(table, mark_best=False)
    assert "time to nrmse<=0.01 [s]" not in head  # never reached by anyone: the column is dropped


def test_markdown_nan_and_formatting():
    table = summary_table(pd.concat([
        pd.DataFrame([{"case": "c", "kind": "cdi", "label": "a", "status": "ok", "wall_s": 1234.56,
                       "metric.nrmse": 0.012345, "metric.ssim": np.nan}]),
        pd.DataFrame([{"case": "c", "kind": "cdi", "label": "b|x", "status": "failed", "wall_s": np.nan,
                       "metric.nrmse": np.nan, "metric.ssim": 0.5}])]))
    text = to_markdown(table)
    assert _markdown_cells(text, "a")[2:4] == ["1235", "0.0123"]
    assert "b\\|x" in text and "–" in text and "0/1 ok, 1 failed" in text


def test_html_marks_best(tmp_path):
    table = summary_table(load_records(write_results(tmp_path, standard_records())))
    page = to_html(table)
    assert page.count('class="num best"') >= 3 and "<b>0.03</b>" in page and "<h3>quick-cdi (cdi)</h3>" in page
    assert "nrmse&lt;=0.1" in page  # escaped


def test_compare_identical_has_no_regression(tmp_path):
    df = load_records(write_results(tmp_path, standard_records()))
    comparison = compare(df, df.copy())
    assert not has_regression(comparison)
    assert set(comparison["status"]) == {"unchanged"}
    assert comparison["ratio"].dropna().eq(1.0).all()
    assert set(comparison["quantity"]) >= {"s_per_iteration", "wall_s", "peak_memory_mb", "metric.nrmse",
                                           "metric.ssim_phase", "ok_fraction"}
    assert list(comparison.columns[:3]) == ["case", "label", "device"]


def test_compare_flags_slowdown(tmp_path):
    old = load_records(write_results(tmp_path / "old", standard_records()))
    new = load_records(write_results(tmp_path / "new", standard_records(slow=2.0)))
    comparison = compare(new, old)
    assert has_regression(comparison)
    flagged = comparison[comparison["regression"]]
    assert set(zip(flagged["label"], flagged["quantity"])) == {("ad (adam)", "s_per_iteration"),
                                                               ("ad (adam)", "wall_s")}
    assert flagged["ratio"].to_numpy() == pytest.approx([2.0, 2.0])
    # the reverse direction is an improvement, and a generous threshold forgives it
    assert not has_regression(compare(old, new))
    assert (compare(old, new)["status"] == "improvement").sum() == 2
    assert not has_regression(compare(new, old, threshold=1.5))


def test_compare_flags_metric_worsening_in_its_direction(tmp_path):
    old = load_records(write_results(tmp_path / "old", standard_records()))
    worse = load_records(write_results(tmp_path / "worse", standard_records(nrmse_er=0.13)))  # +30 %
    comparison = compare(worse, old)
    flagged = comparison[comparison["regression"]]
    assert list(zip(flagged["label"], flagged["quantity"])) == [("er", "metric.nrmse")]
    assert flagged["difference"].iloc[0] == pytest.approx(0.03) and flagged["worse_by"].iloc[0] == pytest.approx(0.3)
    better_ssim = old.assign(**{"metric.ssim_phase": old["metric.ssim_phase"] * 1.5})
    assert not has_regression(compare(better_ssim, old))
    assert has_regression(compare(old, better_ssim))  # ssim dropped by a third


def test_compare_lists_rows_on_one_side_and_failures(tmp_path):
    old = load_records(write_results(tmp_path / "old", standard_records()))
    extra = [record(case="quick-ptycho", kind="ptycho-far", label="epie")]
    new_recs = [r for r in standard_records() if r["label"] != "er"] + extra
    new_recs[0] = record(label="hio", seed=0, status="failed")
    new = load_records(write_results(tmp_path / "new", new_recs))
    comparison = compare(new, old)
    sides = comparison[comparison["status"].str.startswith("only")]
    assert set(zip(sides["case"], sides["label"], sides["status"])) == {
        ("quick-ptycho", "epie", "only in new"), ("quick-cdi", "er", "only in old")}
    assert not sides["regression"].any()
    fewer_ok = comparison[(comparison["label"] == "hio") & (comparison["quantity"] == "ok_fraction")].iloc[0]
    assert fewer_ok["regression"] and (fewer_ok["old"], fewer_ok["new"]) == (1.0, 0.5)


def test_compare_across_devices(tmp_path):
    cpu = load_records(write_results(tmp_path / "cpu", standard_records()))
    gpu_recs = [{**r, "device": "NVIDIA H100"} for r in standard_records(slow=0.5)]
    gpu = load_records(write_results(tmp_path / "gpu", gpu_recs))
    comparison = compare(gpu, cpu)  # disjoint devices: matched on (case, label)
    assert "device" not in comparison and not comparison["status"].str.startswith("only").any()
    forced = compare(gpu, cpu, by=("case", "label", "device"))
    assert forced["status"].str.startswith("only").all()


def test_report_text_exit_codes_and_files(tmp_path):
    old = write_results(tmp_path / "old", standard_records())
    same = write_results(tmp_path / "same", standard_records())
    slow = write_results(tmp_path / "slow", standard_records(slow=2.0) + [record(label="hio", seed=5, status="failed")])
    text, code = report_text(same, against=old)
    assert code == 0 and "REGRESSION" not in text and "No regression" in text
    assert "### quick-cdi (cdi)" in text and "**0.03**" in text
    assert load_table(same / "summary").shape[0] == 3
    html_path = tmp_path / "report.html"
    text, code = report_text(slow, against=old, html_path=html_path)
    assert code == 1 and "**REGRESSION:" in text and "| REGRESSION |" not in text
    assert "RuntimeError: out of memory" in text and "Traceback" not in text  # first line of the error
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'class="regression"' in page and "<b>" in page
    text, code = report_text(same)
    assert code == 0 and "Comparison" not in text
    # against a saved summary table instead of a results folder
    saved = save_table(summary_table(load_records(old)), tmp_path / "release-1.0.csv")
    assert report_text(same, against=saved)[1] == 0 and report_text(slow, against=saved)[1] == 1


def test_compare_summary_tables(tmp_path):
    old = summary_table(load_records(write_results(tmp_path / "old", standard_records())))
    new = summary_table(load_records(write_results(tmp_path / "new", standard_records(slow=2.0))))
    assert not has_regression(compare(old, old)) and has_regression(compare(new, old))


def test_save_table_round_trip(tmp_path):
    table = summary_table(load_records(write_results(tmp_path, standard_records())))
    path = save_table(table, tmp_path / "summary")
    assert path.exists() and path.suffix in (".csv", ".parquet")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    back = load_table(path)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert save_table(table, tmp_path / "forced.csv").suffix == ".csv"


def write_asv(folder, commit, time_hio, nrmse):
    """One machine, one commit, asv results api version 2."""
    machine = folder / "ci-box"
    machine.mkdir(parents=True, exist_ok=True)
    (machine / "machine.json").write_text(json.dumps({"machine": "ci-box", "arch": "x86_64", "cpu": "Xeon",
                                                      "num_cpu": "8", "os": "Linux", "ram": "64G", "version": 1}))
    columns = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
               "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]
    results = {
        "benchmarks.Solvers.time_solve": [[time_hio, 0.5, 0.2, None], [["'hio'", "'ad'"], ["64", "128"]],
                                          "v1", 1700000000000, 3.2, [time_hio * 0.9, 0.45, 0.18, None],
                                          [time_hio * 1.1, 0.55, 0.22, None]],
        "benchmarks.Solvers.peakmem_solve": [[1.0e8], [["'hio'"]], "v2", 1700000000000, 1.0],
        "benchmarks.Accuracy.track_nrmse": [[nrmse], [], "v3"],
        "benchmarks.Broken.time_fails": [None, [], "v4"],
    }
    data = {"commit_hash": commit, "env_name": "virtualenv-py3.12-numpy", "date": 1700000000000,
            "params": {"arch": "x86_64", "cpu": "Xeon", "machine": "ci-box", "num_cpu": "8", "os": "Linux",
                       "ram": "64G", "python": "3.12", "numpy": ""},
            "python": "3.12", "requirements": {"numpy": ""}, "env_vars": {}, "result_columns": columns,
            "results": results, "durations": {"<build>": 10.0}, "version": 2}
    (machine / f"{commit[:8]}-virtualenv-py3.12-numpy.json").write_text(json.dumps(data))


def test_asv_results_tidy_and_comparable(tmp_path):
    folder = tmp_path / "results"
    write_asv(folder, "aaaaaaaa11111111", time_hio=0.1, nrmse=0.05)
    write_asv(folder, "bbbbbbbb22222222", time_hio=0.3, nrmse=0.05)
    (folder / "benchmarks.json").write_text(json.dumps({"benchmarks.Accuracy.track_nrmse": {
        "type": "track", "unit": "nrmse", "param_names": [], "params": []}, "version": 2}))
    df = asv_results(folder)
    assert len(df) == 2 * (4 + 1 + 1 + 1)
    one = df[df["commit"] == "aaaaaaaa11111111"].set_index("case")
    assert one.loc["benchmarks.Solvers.time_solve(hio, 64)", "value"] == pytest.approx(0.1)
    assert one.loc["benchmarks.Solvers.time_solve(ad, 128)", "status"] == "failed"
    assert one.loc["benchmarks.Solvers.time_solve(hio, 128)", "ci_99_high"] == pytest.approx(0.55)  # C order
    assert one.loc["benchmarks.Solvers.peakmem_solve(hio)", ["type", "unit", "better"]].tolist() == \
        ["peakmem", "bytes", "lower"]
    track = one.loc["benchmarks.Accuracy.track_nrmse"]
    assert (track["type"], track["unit"], track["better"], track["machine"]) == ("track", "nrmse", "lower", "ci-box")
    assert one.loc["benchmarks.Broken.time_fails", "status"] == "failed"
    comparison = compare(df[df["commit"].str.startswith("b")], df[df["commit"].str.startswith("a")])
    flagged = comparison[comparison["regression"]]
    assert list(flagged["case"]) == ["benchmarks.Solvers.time_solve(hio, 64)"]
    assert flagged["ratio"].iloc[0] == pytest.approx(3.0)
    assert not has_regression(compare(df[df["commit"].str.startswith("a")], df[df["commit"].str.startswith("a")]))


def test_asv_results_empty_folder(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        asv_results(tmp_path)
