"""How the local pool places its workers."""

import multiprocessing
import os

import pytest

from grader.batch import workers


def _core_taken(started, answers) -> None:
    answers.put((workers._take_a_core(started), os.sched_getaffinity(0)))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is a Linux call")
def test_workers_take_the_cores_in_turn():
    """Each worker pins itself to the next core (its zygote and children follow it, see
    test_zygote), so a worker and the child it talks to share one core."""
    context = multiprocessing.get_context("fork")
    started, answers = context.Value("i", 0), context.Queue()
    cores = sorted(os.sched_getaffinity(0))
    count = len(cores) + 1  # one more than the cores: the first core again
    processes = [context.Process(target=_core_taken, args=(started, answers)) for _ in range(count)]
    for process in processes:
        process.start()
        process.join(30)  # one at a time, so the n-th worker is the n-th process
    taken = [answers.get(timeout=5) for _ in processes]
    assert [core for core, _ in taken] == [{cores[i % len(cores)]} for i in range(count)]
    assert all(core == placed for core, placed in taken), "the worker runs on the core it took"
