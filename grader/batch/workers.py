"""Where grading runs: a pool of warm worker processes here, or an existing Dask cluster.

A worker imports the engine, the stub and the SDK once and keeps a zygote (see
``grader.engine.zygote``) that forks a fresh child per submission, so a submission costs
its own code and checks, not an interpreter start-up. Results come back as plain dicts
(``Result.to_dict()``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pkgutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grader.checks
from grader.batch.discovery import Submission
from grader.engine.session import Limits

if TYPE_CHECKING:
    from grader.engine.zygote import ZygoteLauncher, ZygoteTemplate

# What the grading process itself uses, lazily imported modules and every exercise's checks
# included (else a worker's first submission pays for them); learner code's heavy imports
# live in the zygote.
WARM_MODULES = ["grader.engine.grade", "grader.engine.messages", "grader.engine.stub_calls", "grader.stub.core",
                "grader.stub.server", "grader.stub.transport", "grader.checks",
                *(f"grader.checks.{module.name}" for module in pkgutil.iter_modules(grader.checks.__path__))]


@dataclass(frozen=True)
class Task:
    """What a worker needs to grade one submission; small and picklable."""

    path: str
    exercise: str
    limits: Limits


def task_for(submission: Submission, limits: Limits) -> Task:
    return Task(str(submission.path), submission.exercise, limits)


_per_thread = threading.local()
_template: socket.socket | None = None  # a local pool's ZygoteTemplate, which forks the zygotes
_cpus: set[int] | None = None  # a local pool worker's core, shared with its zygote and children


def _launcher() -> ZygoteLauncher:
    """This worker thread's zygote, started on first use and kept for every later submission.

    One per thread: a zygote serves one notebook at a time, and a Dask worker may run
    several tasks at once in threads.
    """
    if not hasattr(_per_thread, "launcher"):
        from grader.engine.zygote import ZygoteLauncher

        _per_thread.launcher = ZygoteLauncher(template=_template, cpus=_cpus)
    return _per_thread.launcher


def grade_one(task: Task) -> dict[str, Any]:
    """Grade one submission; never raises for anything the notebook does."""
    from grader.engine.grade import grade_notebook

    return grade_notebook(task.path, exercise=task.exercise, limits=task.limits, launcher=_launcher()).to_dict()


def _alive(pid: int) -> bool:
    """Whether *pid* is running (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
    except OSError:  # no /proc: fall back to whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _warm(grader_pid: int, template: socket.socket, workers_started: Any) -> None:
    """Pool initializer: take a core, get a zygote from the batch's *template*, and exit once the
    grader is gone (kill -9), since the pool's own machinery keeps orphaned workers alive otherwise."""
    global _template, _cpus
    _template = template
    _cpus = _take_a_core(workers_started)
    # One core per worker: a check's FAISS threads (read when faiss is first imported) would only
    # fight the other workers; a search of 100 queries took 8 ms with them and 1 ms without.
    os.environ["OMP_NUM_THREADS"] = "1"
    _launcher()

    def watch() -> None:
        while _alive(grader_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _take_a_core(workers_started: Any) -> set[int] | None:
    """Pin this worker to the next core in turn (*workers_started* counts the workers so far).

    A worker and the notebook child it grades take turns: every check operation is a round
    trip between them. On one core they hand over without waking another core and share its
    caches: a class of 100 submissions took 27.1 s instead of 30.6 s (two runs each, 2 cores).
    The worker's zygote, and so each child, is put on the same core.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    with workers_started.get_lock():
        index = workers_started.value
        workers_started.value += 1
    cores = sorted(os.sched_getaffinity(0))
    core = {cores[index % len(cores)]}
    os.sched_setaffinity(0, core)
    return core


def run_local(tasks: Iterable[Task], jobs: int,
              template: ZygoteTemplate | None = None) -> Iterator[tuple[Task, dict[str, Any] | BaseException]]:
    """Grade *tasks* on a local process pool, yielding each result as soon as it is ready.

    *template* forks the workers' zygotes; the command starts it first thing, so that its
    imports (over a second) overlap the command's own start-up. Without one, one is started here.
    """
    from grader.engine.zygote import ZygoteTemplate

    # forkserver: workers start from a clean process, so they never inherit the gradebook lock.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["grader.batch.workers", *WARM_MODULES])  # imported once, not per worker
    with contextlib.ExitStack() as stack:
        template = template or stack.enter_context(ZygoteTemplate())
        workers_started = context.Value("i", 0)
        pool = stack.enter_context(ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_warm, initargs=(os.getpid(), template.socket, workers_started)))
        futures = {pool.submit(grade_one, task): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], _outcome(future)


CONNECT_TIMEOUT = 10  # seconds: a scheduler on a busy or distant machine may be slow to answer


def _refuse_early(address: str) -> None:
    """Raise at once if nothing listens at a TCP *address*: Dask would retry until its timeout,
    and a mistyped port is the usual cause. Other transports (tls://, ucx://) are left to Dask."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError:
        return  # Dask names what is wrong with the address itself
    if scheme == "tcp":
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass


def run_dask(tasks: Iterable[Task], address: str) -> Iterator[tuple[Task, dict[str, Any] | BaseException]]:
    """Grade *tasks* on the Dask cluster whose scheduler listens at *address*."""
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise SystemExit("grader grade --scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        _refuse_early(address)
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as error:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} ({error}); start one with "
                              "`dask scheduler` and workers with `dask worker ADDRESS`, or check the address") from None
    with client:
        futures = {client.submit(grade_one, task, pure=False): task for task in tasks}
        for future in dask_completed(futures):
            yield futures[future], _outcome(future)


def worker_died(error: BaseException) -> bool:
    """Whether *error* says a worker process died, rather than the grader raising."""
    return isinstance(error, BrokenProcessPool) or type(error).__name__ == "KilledWorker"


def run_alone(tasks: Iterable[Task]) -> Iterator[tuple[Task, dict[str, Any] | BaseException]]:
    """Grade, each on a worker of its own, submissions whose worker died in the shared pool:
    only then is it known which one did it. One that kills its own worker twice is recorded
    as ``crashed``, never retried forever; the others are graded as usual."""
    from grader.engine import result as R
    from grader.engine.grade import ungraded

    for task in tasks:
        for attempt in (1, 2):
            _, outcome = next(run_local([task], 1))
            if not isinstance(outcome, BaseException) or not worker_died(outcome):
                yield task, outcome
                break
            if attempt == 2:
                problem = ("grading this notebook killed the grading worker twice; it is recorded as crashed "
                           "and will not be retried")
                yield task, ungraded(Path(task.path), problem, task.exercise, R.CRASHED).to_dict()


def _outcome(future: Any) -> dict[str, Any] | BaseException:
    """The result, or the error if the worker died (its submissions are then graded alone)."""
    try:
        return future.result()
    except Exception as error:
        return error
