"""``settled()``: a process is settled only when it is blocked with nothing waiting at the stub's end."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from grader.engine.quiescence import Quiescence
from grader.engine.zygote import children_of
from grader.stub.server import waiting_at

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")


def settles_within(probe: Quiescence, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe.settled():
            return True
        time.sleep(0.001)
    return False


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def probe(pid: int, listener: socket.socket, connections: tuple = (), arrivals=lambda: 0) -> Quiescence:
    return Quiescence(pid, lambda: waiting_at(listener, connections), arrivals)


def test_a_sleeping_process_settles_and_a_spinning_one_never_does(listener):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # both interpreters started
        assert settles_within(probe(sleeper.pid, listener), 2.0)
        assert not settles_within(probe(spinner.pid, listener), 0.5), "a busy process is never settled"
    finally:
        for process in (sleeper, spinner):
            process.kill()
            process.wait()


def test_what_waits_at_the_stubs_end_keeps_it_unsettled(listener):
    """A request written but not yet read by the stub may still be counted: not settled till then."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    accepted: list[socket.socket] = []
    try:
        time.sleep(0.3)
        quiescence = Quiescence(sleeper.pid, lambda: waiting_at(listener, accepted), lambda: 0)
        with socket.create_connection(("127.0.0.1", listener.getsockname()[1])) as client:
            assert not settles_within(quiescence, 0.3), "a connection waiting to be accepted"
            accepted.append(listener.accept()[0])
            client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
            time.sleep(0.05)
            assert not settles_within(quiescence, 0.3), "bytes waiting to be read"
            accepted[0].recv(1024)
            assert settles_within(quiescence, 2.0), "nothing left unread: settled"
    finally:
        for connection in accepted:
            connection.close()
        sleeper.kill()
        sleeper.wait()


def test_a_new_request_starts_the_window_again(listener):
    """The stub counting a request is progress, even when learner code looks asleep at both looks."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    count = [0]
    try:
        time.sleep(0.3)
        quiescence = probe(sleeper.pid, listener, arrivals=lambda: count[0])
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            count[0] += 1
            assert not quiescence.settled()
            time.sleep(0.002)
        assert settles_within(quiescence, 2.0)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_that_is_gone_is_not_settled(listener):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not settles_within(probe(int(done.stdout), listener), 0.1)


def test_a_sandboxed_learner_is_the_child_of_the_process_the_grader_started(listener):
    """In a PID namespace the learner's interpreter is pid 1 there, a child of the process the
    zygote forked: a busy child keeps the pair unsettled though its parent only waits."""
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])"
    spinning = subprocess.Popen([sys.executable, "-c", code, "while True: pass"])
    sleeping = subprocess.Popen([sys.executable, "-c", code, "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)  # both children started
        assert not settles_within(probe(spinning.pid, listener), 0.5)
        assert settles_within(probe(sleeping.pid, listener), 2.0)
    finally:
        for process in (spinning, sleeping):
            for child in children_of(process.pid):
                os.kill(child, signal.SIGKILL)
            process.kill()
            process.wait()
