"""The child's serve loop outlives anything learner code does in one call (issue 8).

Each hostile function is called through the real channel, decoded by the grader's typed
schema, and must become that call's reply; the next call must still be answered.
"""

import json
import socket
import threading
from pathlib import Path

from grader.engine import child, clock, messages
from grader.engine.grade import grade_notebook
from grader.engine.protocol import Channel
from grader.engine.remote import Learner, LearnerRaised, LearnerTimeout
from grader.engine.session import Limits
from grader.engine.workspace import Workspace

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "01_api_hygiene.ipynb"
SWALLOWING_RETRY = """

def call_with_retry(call, **ignored):
    while True:
        try:
            return call()
        except:
            time.sleep(1)
"""

HOSTILE = """
import time

def ok():
    return "still here"

def huge_int():
    return 10 ** 5000

def huge_list():
    return [0] * 3_000_000

class HangingRepr:
    def __repr__(self):
        while True:
            pass

def hanging_repr():
    return HangingRepr()

def interrupt():
    raise KeyboardInterrupt()

class HangingStr(Exception):
    def __str__(self):
        while True:
            pass

def hanging_str():
    raise HangingStr()

class RaisingStr(Exception):
    def __str__(self):
        raise SystemExit(3)

def raising_str():
    raise RaisingStr()

def exits():
    raise SystemExit(0)

def surrogate():
    return "\\ud800"

def swallow():
    while True:
        try:
            while True:
                pass
        except:
            time.sleep(1)
"""

CALL_SECONDS = 2.0  # room for copying 3 million items on a loaded machine


def serve_while(checks):
    """Run a child's serve loop here (it needs the main thread, for SIGALRM) while *checks*
    drives it from a thread, as the grading process would, through a ``Learner``."""
    clock.install()
    namespace = {"__name__": "__main__"}
    exec(compile(HOSTILE, "<cell 1>", "exec"), namespace)  # a cell's filename, as when grading
    ours, theirs = socket.socketpair()
    grader_side, errors = Channel(ours), []

    def backend(request):
        grader_side.send(request)
        return grader_side.receive(timeout=10, decode=messages.reply)

    def grader():
        try:
            checks(Learner(backend))
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
        finally:
            grader_side.send({"op": "close"})

    thread = threading.Thread(target=grader)
    thread.start()
    child.serve(Channel(theirs), Workspace(namespace, call_timeout=CALL_SECONDS))
    thread.join()
    if errors:
        raise errors[0]


def test_every_hostile_call_becomes_an_outcome_and_the_next_call_is_answered():
    seen = {}

    def body(nb):
        for name in ("huge_int", "huge_list", "hanging_repr", "interrupt", "hanging_str", "raising_str",
                     "exits", "surrogate", "swallow"):
            try:
                value = getattr(nb, name)()
                seen[name] = ("value", value.type_name if hasattr(value, "type_name") else value)
            except LearnerRaised as error:
                seen[name] = ("raised", error.type_name)
            except LearnerTimeout:
                seen[name] = ("timeout", None)
            assert nb.ok() == "still here", f"the child stopped answering after {name}"

    serve_while(body)
    assert seen == {
        "huge_int": ("value", "int"),  # too big to be data: a handle, whose repr says so
        "huge_list": ("value", "list"),  # too long to copy: a handle
        "hanging_repr": ("timeout", None),
        "interrupt": ("raised", "KeyboardInterrupt"),
        "hanging_str": ("timeout", None),
        "raising_str": ("raised", "RaisingStr"),
        "exits": ("raised", "SystemExit"),
        "surrogate": ("value", "str"),  # not valid JSON text: a handle
        "swallow": ("timeout", None),  # `except:` around a loop cannot swallow the limit
    }


def test_a_retry_loop_with_a_bare_except_loses_only_its_own_part(tmp_path):
    """The beginner's ``while True: try: ... except: sleep`` used to swallow the time limit:
    the child was killed and every later part scored 0 ("stopped responding")."""
    raw = json.loads(SOLUTION.read_text())
    [cell] = [c for c in raw["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "api-retry-code"]
    cell["source"] = "".join(cell["source"]) + SWALLOWING_RETRY
    path = tmp_path / "swallowing.ipynb"
    path.write_text(json.dumps(raw))
    result = grade_notebook(path, limits=Limits(cell_seconds=10, notebook_seconds=120, call_seconds=1.5,
                                                memory_mb=1024))
    points = {part.id: part.points for part in result.parts}
    assert points.pop("api-retry") < 4
    assert points == {"api-client": 2, "api-cost": 3, "api-cache": 2, "api-concurrency": 3, "api-logging": 2}
    retry = next(part for part in result.parts if part.id == "api-retry")
    assert any("did not finish in time" in line for line in retry.feedback), retry.feedback
    assert not any("stopped responding" in line for part in result.parts for line in part.feedback)
