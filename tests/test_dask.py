"""Sweeps on Dask: a real LocalCluster of 2 single-threaded worker processes on loopback gives the
same records as the in-process executor, and a worker killed mid-run loses no case. Skipped
cleanly where the ``dask`` extra is not installed; the core never imports dask."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cdibench.harness import runner
from cdibench.cli import main
from cdibench.harness.executors import DaskExecutor, LocalExecutor, make_executor
from cdibench.harness.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="the dask extra (dask.distributed) is not installed")


def _records(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))}


def test_core_runs_without_importing_dask():
    code = ("import sys, cdibench.cli, cdibench.harness.runner, cdibench.harness.executors as e; e.make_executor(); "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(make_executor(), LocalExecutor)


def test_without_dask_the_dask_executor_is_one_clear_line_before_simulating(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    assert main(["run", "micro", "-o", str(tmp_path), "--executor", "dask"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'cdibench[dask]'" in err
    assert not (tmp_path / "datasets").exists()


@needs_dask
def test_scheduler_implies_the_dask_executor():
    assert isinstance(make_executor(scheduler="tcp://127.0.0.1:1"), DaskExecutor)


@pytest.fixture(scope="module")
def local_micro(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    runner.run_suite(load_suite("micro"), out, progress=False)
    return _records(out)


@pytest.fixture(scope="module")
def cluster():
    if not HAVE_DASK:
        pytest.skip("the dask extra is not installed")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as c:
        yield c


def _assert_same_records(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for key in a:
        x, y = a[key], b[key]
        assert (x["status"], x["iterations"], x["solver"], x["case"]) == (y["status"], y["iterations"],
                                                                          y["solver"], y["case"]), key
        assert sorted(x["metrics"]) == sorted(y["metrics"])
        for name, value in x["metrics"].items():
            np.testing.assert_allclose(y["metrics"][name], value, rtol=1e-6, err_msg=f"{key} {name}")


@needs_dask
def test_embedded_local_cluster_gives_the_records_of_the_local_executor(tmp_path, capsys, local_micro):
    out = tmp_path / "dask"
    code = main(["run", "micro", "-o", str(out), "--no-figures", "--executor", "dask", "--workers", "2"])
    text = capsys.readouterr().out
    assert code == 0 and "LocalCluster of 2 processes on 127.0.0.1" in text
    _assert_same_records(local_micro, _records(out))
    assert len(list((out / "datasets").glob("*.cxi"))) == 2  # simulated once, up front, shared
    assert {r["status"] for r in _records(out).values()} == {"ok"}


def _kill_the_worker_running(client, key: str, killed: list, deadline_s: float = 120.0):
    """SIGKILL the worker process that is executing Dask task ``key`` (after 0.5 s of it)."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        running = client.run(lambda dask_worker: [str(k) for k, ts in dask_worker.state.tasks.items()
                                                  if ts.state == "executing"])
        for address, keys in running.items():
            if key in keys:
                time.sleep(0.5)
                pid = client.run(os.getpid, workers=[address])[address]
                os.kill(pid, signal.SIGKILL)
                killed.append((address, pid))
                return
        time.sleep(0.05)


@needs_dask
def test_worker_killed_mid_run_loses_no_case(tmp_path, cluster, local_micro):
    from distributed import Client

    suite = load_suite("micro")
    target = next(t for t in suite.tasks() if t.run.solver == "ad-cdi")  # seconds: TF import + tracing
    killed = []
    with Client(cluster.scheduler_address) as client:
        killer = threading.Thread(target=_kill_the_worker_running, args=(client, f"cdibench-{target.key}", killed))
        killer.start()
        try:
            executor = DaskExecutor(scheduler=cluster.scheduler_address, retries=1)
            records = runner.run_suite(suite, tmp_path, progress=False, executor=executor)
        finally:
            killer.join()
    assert killed, "no worker was killed: the target task never ran"
    assert sorted(r["key"] for r in records) == sorted(t.key for t in suite.tasks())
    on_disk = _records(tmp_path)
    assert sorted(on_disk) == sorted(t.key for t in suite.tasks())  # every case exactly once
    assert {r["status"] for r in on_disk.values()} == {"ok"}
    _assert_same_records(local_micro, on_disk)
