"""Where a suite's tasks run: in this process (the default), each in a fresh process of its own
(``isolated``: memory measured per run), or on a Dask cluster.

An executor is a context manager with ``map(fn, tasks, progress)`` yielding ``(task, record,
error)`` as tasks finish: ``record`` is what ``fn(task)`` returned, ``error`` the exception when
the task could not be completed at all (a Dask worker that kept dying under it); exactly one of
the two is None. ``local_workers`` says how many tasks hold a dataset in memory on this machine
at once (the runner's memory check); ``remote`` that tasks run in other processes, so ``fn`` and
the tasks must pickle (the runner then passes ``runner.run_task_on_worker``).

The runner simulates the datasets up front and ``fn`` writes each task's record atomically into
the results folder, so the folder is the only state shared with the workers: a lost worker costs
only the task it was running, which Dask runs again (``distributed.scheduler.allowed-failures``
times, then the task is recorded as failed). dask is imported only by :class:`DaskExecutor`, so
the core works without the ``dask`` extra.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from tqdm.auto import tqdm

EXECUTORS = ("local", "isolated", "dask")
LOOPBACK = "127.0.0.1"
_NO_DASK = ("executor = 'dask' needs dask.distributed, which is not installed: expected the dask extra, "
            "pip install 'cdibench[dask]'")


def _label(task) -> str:
    return f"{task.case.name} / {task.run.label}"


class LocalExecutor:
    """Every task in this process, one after the other."""

    name = "local"
    remote = False
    local_workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def describe(self) -> str:
        return "local (this process)"

    def map(self, fn: Callable, tasks: Iterable, progress: bool = True) -> Iterator[tuple]:
        bar = tqdm(list(tasks), desc="tasks", disable=not progress, position=0)
        for task in bar:
            bar.set_postfix_str(_label(task))
            yield (task,) + self._run(fn, task)

    def _run(self, fn: Callable, task) -> tuple:
        """(record, None), or (None, error) when the task could not be completed at all."""
        return fn(task), None


class IsolatedExecutor(LocalExecutor):
    """Every task in a fresh Python process of its own (spawned), one after the other: nothing one
    run allocated, imported or cached is there for the next, so each record's peak memory is that
    run's alone (the check of cdibench.harness.memory's estimates) at the cost of a start-up per task. A
    task whose process dies is reported as an error, and the suite carries on."""

    name = "isolated"
    remote = True

    def describe(self) -> str:
        return "isolated (a fresh process per task)"

    def _run(self, fn: Callable, task) -> tuple:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            try:
                return pool.submit(fn, task).result(), None
            except Exception as exc:  # noqa: BLE001 - the process died or fn raised: the task's result
                return None, exc


def parse_resources(pairs: Iterable[str] | None) -> dict[str, float]:
    """['GPU=1', 'MEM=8e9'] -> {'GPU': 1.0, 'MEM': 8e9} (Dask worker resources per task)."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        try:
            amount = float(value)
        except ValueError:
            amount = float("nan")
        if not sep or not key.strip() or not amount > 0:
            raise ValueError(f"--resources {pair!r} is invalid: expected NAME=AMOUNT with AMOUNT > 0, e.g. GPU=1")
        out[key.strip()] = amount
    return out


class DaskExecutor:
    """One Dask task per suite task, on an existing cluster (``scheduler``: ``tcp://HOST:PORT``) or
    on an embedded ``LocalCluster`` of ``workers`` single-threaded processes bound to loopback
    (no dashboard). ``retries``: extra attempts of a task that raised; ``resources``: what each
    task needs from a worker (e.g. ``{"GPU": 1}`` for workers started with ``--resources GPU=1``).

    The LocalCluster's workers are spawned processes: a script that runs a suite on it needs the
    usual ``if __name__ == "__main__":`` guard (``cdibench run`` has it).
    """

    name = "dask"
    remote = True

    def __init__(self, workers: int | None = None, scheduler: str | None = None, retries: int = 2,
                 resources: dict | None = None, connect_timeout_s: float = 30.0):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers = {workers!r} is invalid: expected an integer >= 1")
        if workers is not None and scheduler:
            raise ValueError(f"workers = {workers} with scheduler = {scheduler!r}: expected one of them "
                             "(the workers of an existing cluster are its own)")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries = {retries!r} is invalid: expected an integer >= 0")
        if scheduler is not None and "://" not in scheduler:
            raise ValueError(f"scheduler = {scheduler!r} is invalid: expected an address like tcp://HOST:PORT")
        if importlib.util.find_spec("distributed") is None:  # fail before any dataset is simulated
            raise ImportError(_NO_DASK)
        self.workers = workers or os.cpu_count() or 1
        self.scheduler, self.retries = scheduler, retries
        self.resources = dict(resources or {})
        self.connect_timeout_s = connect_timeout_s
        self.cluster = self.client = None
        self._depth = 0

    @property
    def local_workers(self) -> int:
        """Datasets in memory on this machine at once: the local workers, or the one being simulated."""
        return 1 if self.scheduler else self.workers

    def describe(self) -> str:
        where = self.scheduler or (f"LocalCluster of {self.workers} process{'es' if self.workers > 1 else ''} "
                                   f"on {LOOPBACK}")
        return f"dask ({where})"

    def __enter__(self):
        if self.client is not None:  # re-entered (a caller's `with` around run_suite's own)
            self._depth += 1
            return self
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ImportError(f"{_NO_DASK} ({exc})") from None
        if self.scheduler:
            self.client = Client(self.scheduler, timeout=f"{self.connect_timeout_s}s")
        else:
            # no dashboard; the scheduler's small HTTP server (health checks) on a free loopback port
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                        host=LOOPBACK, dashboard_address=None, silence_logs=logging.ERROR,
                                        scheduler_kwargs={"dashboard": False, "dashboard_address": f"{LOOPBACK}:0"},
                                        resources=self.resources or None)
            try:
                self.client = Client(self.cluster)
            except BaseException:
                self.cluster.close()
                self.cluster = None
                raise
        self._depth = 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth > 0:
            return False
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None
        return False

    def map(self, fn: Callable, tasks: Iterable, progress: bool = True) -> Iterator[tuple]:
        from distributed import as_completed

        if self.client is None:
            raise RuntimeError("DaskExecutor.map outside `with DaskExecutor(...)`")
        tasks = list(tasks)
        futures = {self.client.submit(fn, task, key=f"cdibench-{task.key}", pure=False,
                                      retries=self.retries, resources=self.resources or None): task
                   for task in tasks}
        bar = tqdm(total=len(tasks), desc="tasks (dask)", disable=not progress, position=0)
        try:
            for future in as_completed(futures):
                task = futures[future]
                bar.set_postfix_str(_label(task))
                bar.update(1)
                try:
                    result, error = future.result(), None
                except Exception as exc:  # e.g. KilledWorker: the task's workers kept dying
                    result, error = None, exc
                yield task, result, error
        finally:
            bar.close()
            pending = [f for f in futures if not f.done()]
            if pending:  # interrupted: do not leave the cluster running our tasks
                self.client.cancel(pending)


def make_executor(executor: str | None = None, workers: int | None = None, scheduler: str | None = None,
                  retries: int = 2, resources: dict | None = None):
    """The executor named by the command line: ``local`` (default), ``isolated`` or ``dask``
    (implied by ``scheduler``)."""
    name = executor or ("dask" if scheduler else "local")
    if name not in EXECUTORS:
        raise ValueError(f"executor = {name!r} is unknown: expected one of {', '.join(EXECUTORS)}")
    if name in ("local", "isolated"):
        extra = {k: v for k, v in (("workers", workers), ("scheduler", scheduler), ("resources", resources)) if v}
        if extra:
            raise ValueError(f"{', '.join(extra)} = {list(extra.values())!r} given with executor {name!r}: "
                             "expected --executor dask")
        return LocalExecutor() if name == "local" else IsolatedExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler, retries=retries, resources=resources)
