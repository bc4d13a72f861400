"""Faults: a suite killed with SIGKILL resumes and completes with every task exactly once and
no record corrupt; a diverging solver is recorded as diverged with its last finite state; a case
that raises is recorded as failed; the suite carries on and the exit status says so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cdibench.harness import runner
from cdibench.cli import main
from cdibench.data.reconstruction import load_reconstruction
from cdibench.harness.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"


def _cli_run(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "cdibench.cli", "run", "micro", "-o", str(out), "--no-figures"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _record_files(out: Path) -> list[Path]:
    return sorted((out / "records").glob("*.json"))


def test_sigkill_mid_suite_then_resume_completes_every_task_once(tmp_path):
    out = tmp_path / "micro"
    keys = sorted(t.key for t in load_suite("micro").tasks())
    proc = _cli_run(out)
    deadline = time.monotonic() + 180
    while not (out / "records").is_dir() or not _record_files(out):
        assert proc.poll() is None, f"finished before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "no record within 180 s"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = {p: p.stat().st_mtime_ns for p in _record_files(out)}
    assert 1 <= len(before) < len(keys)  # killed mid-suite

    # What a kill during a record write leaves: a temp sibling with a torn record of an unfinished task.
    todo = sorted(set(keys) - {p.stem for p in before})
    torn = out / "records" / f".{todo[0]}.json.k1ll3d.tmp"
    torn.write_text(json.dumps({"key": todo[0], "case": "torn", "status": "ok"})[:25])

    proc = _cli_run(out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert f"({len(before)} already done)" in stdout

    files = _record_files(out)
    assert [p.stem for p in files] == keys  # every task exactly once, the temp file not taken for one
    for path in files:
        record = json.loads(path.read_text())
        assert record["key"] == path.stem and record["status"] == "ok", record.get("error")
    for path, mtime in before.items():  # done before the kill: not run again
        assert path.stat().st_mtime_ns == mtime
    assert runner.done_keys(out) == set(keys)
    assert not [p for p in (out / "records").iterdir() if p.suffix == ".tmp" and p != torn]


SUITE = """name = "faults"
[[case]]
dataset = "quick-cdi"
runs = [{ solver = "ad-cdi", label = "AD-diverging", options = { iterations = 5, learning_rate = 1e30 } },
        { solver = "hio", options = { iterations = 20 } }]
[[case]]
dataset = "quick-ptycho-far"
runs = [{ solver = "epie", options = { iterations = 2 } }]
"""


@pytest.fixture(scope="module")
def faults_run(tmp_path_factory):
    """The suite above with the ptycho dataset file corrupted on disk: exit status, stderr, records."""
    folder = tmp_path_factory.mktemp("faults")
    for name in ("quick-cdi.toml", "quick-ptycho-far.toml"):
        shutil.copy(DATASETS / name, folder / name)
    (folder / "suite-faults.toml").write_text(SUITE)
    suite = load_suite(str(folder / "suite-faults.toml"))
    out = folder / "out"
    ptycho = next(t for t in suite.tasks() if t.run.solver == "epie")
    runner.dataset_path(ptycho, out).parent.mkdir(parents=True)
    runner.dataset_path(ptycho, out).write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)  # corrupt
    return folder, out


def _run(folder: Path, out: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["run", str(folder / "suite-faults.toml"), "-o", str(out), "--no-figures"])
    return code, capsys.readouterr().err


def test_diverged_and_failed_cases_are_recorded_and_the_suite_carries_on(faults_run, capsys):
    folder, out = faults_run
    code, err = _run(folder, out, capsys)
    records = {r["label"]: r for r in runner.read_records(out)}
    assert {k: r["status"] for k, r in records.items()} == {"AD-diverging": "diverged", "hio": "ok",
                                                             "epie": "failed"}
    diverged = records["AD-diverging"]
    assert "loss became" in diverged["error"] and diverged["iterations"] >= 1
    rec, _ = load_reconstruction(out / "reconstructions" / f"{diverged['key']}.h5")
    assert rec.status == "diverged" and np.isfinite(rec.object).all()  # the last finite state
    assert np.isfinite(rec.history["loss"]).all()
    failed = records["epie"]
    assert "ValueError" in failed["error"] and "cannot be opened as HDF5" in failed["error"]
    assert "Traceback" in failed["traceback"]  # kept in the record, not shown to the user
    assert records["hio"]["metrics"]["nrmse"] < 0.2
    assert code == 1  # the exit status says a case failed
    assert "FAILED quick-ptycho-far / epie: ValueError" in err and "Traceback" not in err

    # re-running skips the done tasks but still reports the failure
    code, err = _run(folder, out, capsys)
    assert code == 1 and "FAILED quick-ptycho-far / epie" in err
    assert len(runner.read_records(out)) == 3


class _LosingExecutor:
    """Runs tasks in this process, except that the executor loses the epie task (a Dask worker
    that kept dying under it ends the same way: KilledWorker)."""

    remote, local_workers = False, 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, tasks, progress=True):
        for task in tasks:
            if task.run.solver == "epie":
                yield task, None, RuntimeError("KilledWorker: all workers died while running it")
            else:
                yield task, fn(task), None


def test_a_task_the_executor_loses_is_recorded_as_failed(tmp_path):
    suite = load_suite("micro")
    records = runner.run_suite(suite, tmp_path, progress=False, executor=_LosingExecutor())
    assert sorted(r["key"] for r in records) == sorted(t.key for t in suite.tasks())
    on_disk = {r["solver"]: r for r in runner.read_records(tmp_path)}
    assert on_disk["epie"]["status"] == "failed" and "KilledWorker" in on_disk["epie"]["error"]
    assert on_disk["hio"]["status"] == on_disk["ad-cdi"]["status"] == "ok"
