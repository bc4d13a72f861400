"""The harness: suites, resumable runs with one record per (case, run, seed), reports, figures."""

import json
from pathlib import Path

import pytest

from cdibench.harness import runner
from cdibench.harness.suite import load_suite, parse_target

DATASETS = Path(__file__).resolve().parent.parent / "datasets"


def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("micro")
    suite = load_suite("micro")
    runner.run_suite(suite, out, progress=False)
    return suite, out


def test_micro_suite_end_to_end(micro_run):
    suite, out = micro_run
    records = _records(out)
    assert len(records) == len(suite.tasks()) == 3
    for r in records:
        assert r["status"] == "ok", r.get("error")
        assert r["wall_s"] > 0 and r["s_per_iteration"] > 0 and r["peak_memory_mb"] > 0
        assert r["floor_s"] > 0 and r["floor_ratio"] == pytest.approx(r["s_per_iteration"] / r["floor_s"])
        assert r["provenance"]["git_commit"] and r["provenance"]["numpy"]
        assert (out / "histories" / f"{r['key']}.csv").is_file()
        assert "nrmse" in r["metrics"] and set(r["time_to_target"]) <= set(suite.targets)
    hio = next(r for r in records if r["solver"] == "hio")
    assert hio["metrics"]["nrmse"] < 0.05 and hio["time_to_target"]["nrmse<=0.05"] is not None


def test_report_and_figures(micro_run):
    from cdibench.figures import make_figures
    from cdibench.report import report_text

    _, out = micro_run
    text, code = report_text(out)
    assert code == 0 and "quick-cdi" in text and "hio" in text
    files = make_figures(out)
    assert files and all(Path(f).stat().st_size > 0 for f in files)


def test_resume_after_interruption(tmp_path, monkeypatch):
    suite = load_suite("micro")
    real = runner.run_task
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("injected stop")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_task", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        runner.run_suite(suite, tmp_path, progress=False)
    assert len(_records(tmp_path)) == 1
    monkeypatch.setattr(runner, "run_task", real)
    second = runner.run_suite(suite, tmp_path, progress=False)
    assert len(second) == 2
    keys = [r["key"] for r in _records(tmp_path)]
    assert sorted(keys) == sorted({t.key for t in suite.tasks()})


def test_failing_case_is_recorded_and_suite_carries_on(tmp_path, monkeypatch):
    suite = load_suite("micro")
    real = runner.reconstruct

    def broken(dataset, name, *args, **kwargs):
        if name == "hio":
            raise RuntimeError("injected solver failure")
        return real(dataset, name, *args, **kwargs)

    monkeypatch.setattr(runner, "reconstruct", broken)
    records = runner.run_suite(suite, tmp_path, progress=False)
    statuses = {r["solver"]: r["status"] for r in records}
    assert statuses == {"hio": "failed", "ad-cdi": "ok", "epie": "ok"}
    failed = next(r for r in records if r["status"] == "failed")
    assert "injected solver failure" in failed["error"]


@pytest.mark.parametrize("text, match", [
    ('name = "x"\n', "at least one"),
    ('colour = 1\n[[case]]\ndataset = "quick-cdi"\nruns = [{ solver = "hio" }]\n', "colour"),
    ('[[case]]\ndataset = "quick-cdi"\nruns = [{ solver = "nope" }]\n', "nope"),
    ('[[case]]\ndataset = "quick-cdi"\nruns = [{ solver = "hio", options = { itr = 3 } }]\n', "itr"),
    ('targets = ["nrmse=0.1"]\n[[case]]\ndataset = "quick-cdi"\nruns = [{ solver = "hio" }]\n', "target"),
    ('[[case]]\ndataset = "quick-cdi"\noverrides = { "noise.photons" = 1 }\nruns = [{ solver = "hio" }]\n', "photons"),
])
def test_bad_suites_are_refused(tmp_path, text, match):
    path = tmp_path / "suite-bad.toml"
    for spec in DATASETS.glob("quick-*.toml"):
        (tmp_path / spec.name).write_text(spec.read_text())
    path.write_text(text)
    with pytest.raises((ValueError, TypeError), match=match):
        load_suite(str(path))


def test_targets_and_sweeps():
    assert parse_target("ssim_in>=0.8") == ("ssim_in", ">=", 0.8)
    paper = load_suite("paper")
    names = [c.name for c in paper.cases]
    assert sum(n.startswith("photons[") for n in names) == 4
    assert len({t.key for t in paper.tasks()}) == len(paper.tasks())


def test_optional_run_is_skipped_without_its_backend_and_redone_once_installed(tmp_path, monkeypatch):
    path = tmp_path / "suite-opt.toml"
    path.write_text(f'[[case]]\ndataset = "{DATASETS / "quick-cdi"}"\n'
                    'runs = [{ solver = "hio", options = { iterations = 5 } },\n'
                    '  { solver = "er", optional = true, options = { iterations = 5 } }]\n')
    suite = load_suite(str(path))
    assert [r.optional for r in suite.cases[0].runs] == [False, True]
    monkeypatch.setattr(runner, "missing_backend", lambda name: "needs 'peerlib': pip install 'cdibench[x]'"
                        if name == "er" else None)
    records = {r["solver"]: r for r in runner.run_suite(suite, tmp_path / "out", progress=False)}
    assert records["hio"]["status"] == "ok"
    assert records["er"]["status"] == "skipped" and "peerlib" in records["er"]["error"]
    from cdibench.report import report_text
    text, code = report_text(tmp_path / "out")
    assert code == 0 and "skipped" in text
    monkeypatch.undo()
    again = runner.run_suite(suite, tmp_path / "out", progress=False)
    assert [(r["solver"], r["status"]) for r in again] == [("er", "ok")]


def test_optional_must_be_a_boolean(tmp_path):
    path = tmp_path / "suite-bad.toml"
    path.write_text('[[case]]\ndataset = "quick-cdi"\nruns = [{ solver = "hio", optional = "yes" }]\n')
    with pytest.raises(ValueError, match="optional"):
        load_suite(str(path))


def test_isolated_executor_runs_each_task_in_a_fresh_process(tmp_path):
    from cdibench.harness.executors import make_executor
    from cdibench.report.records import records_frame

    path = tmp_path / "suite-iso.toml"
    path.write_text(f'[[case]]\ndataset = "{DATASETS / "quick-cdi"}"\n'
                    'runs = [{ solver = "hio", options = { iterations = 5 } }, { solver = "er", options = { iterations = 5 } }]\n')
    records = runner.run_suite(load_suite(str(path)), tmp_path / "out", progress=False,
                               executor=make_executor("isolated"))
    assert [r["status"] for r in records] == ["ok", "ok"] and all(r["fresh_process"] for r in records)
    frame = records_frame(records)
    assert frame["memory_ratio"].notna().all()  # measured per run: compared with the estimate
    in_process = runner.run_suite(load_suite(str(path)), tmp_path / "same", progress=False)
    assert in_process[1]["fresh_process"] is False  # the second run in one process is never fresh
    frame = records_frame(in_process)
    assert frame.loc[frame["fresh_process"].eq(False), "memory_ratio"].isna().all()
