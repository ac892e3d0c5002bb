"""Malformed messages written to the grading socket by learner code (issue 8).

Before the typed schema, each of these crashed ``grader check`` with a traceback (a list
has no ``.get``, 100,000 brackets overflow ``json.loads``, an unknown or missing cell
index is a ``KeyError``). Now each is a protocol violation: the child is stopped and
the notebook graded as crashed, with the reason, never a crash of the grader.
"""

import json

import pytest

from grader.engine import messages
from grader.engine import result as R
from grader.engine.grade import grade_notebook
from grader.engine.protocol import ProtocolViolation
from grader.engine.session import Limits

FAST = Limits(cell_seconds=10, notebook_seconds=60, call_seconds=5, memory_mb=1024)

PAYLOADS = {
    "a list instead of an object": "[1, 2]",
    "JSON nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "an unknown cell index": json.dumps({"event": "cell_start", "index": 999}),
    "a missing index": json.dumps({"event": "cell_end", "status": "ok", "output": ""}),
}

SCHEMA_LEVEL = ["a list instead of an object", "JSON nested 100,000 deep", "a missing index"]

FORGE = """
import os, struct
def forge(text):
    data = text.encode()
    for name in os.listdir('/proc/self/fd'):
        try:
            if os.readlink(f'/proc/self/fd/{name}').startswith('socket:'):
                os.write(int(name), struct.pack('!I', len(data)) + data)
        except OSError:
            pass
"""


@pytest.mark.parametrize("payload", [PAYLOADS[name] for name in SCHEMA_LEVEL], ids=SCHEMA_LEVEL)
def test_schema_rejects_each_forgery_with_a_reason(payload):
    """(An unknown index is well-formed: the session rejects it, knowing which cells it sent.)"""
    decode = messages.cell_event if "event" in payload else messages.reply
    with pytest.raises(ProtocolViolation, match="malformed"):
        decode(payload.encode())


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_forgery_while_the_cells_run_is_graded_as_crashed(sample_variant, payload):
    cell = FORGE + f"forge({payload!r})\n"
    result = grade_notebook(sample_variant(extra_cells=[(2, cell)]), limits=FAST)
    assert result.status == R.CRASHED
    forged = [error for error in result.cell_errors if error["status"] == R.CRASHED]
    assert forged and ("malformed" in forged[0]["message"] or "not asked to run" in forged[0]["message"])
    assert result.score == 3, "the other cells run again without the forging one and are graded"


def test_a_forgery_during_a_check_fails_that_check_with_the_reason(sample_variant):
    source = FORGE + ("def mean(values):\n"
                      f"    forge({PAYLOADS['a list instead of an object']!r})\n"
                      "    return sum(values) / len(values) if values else 0.0\n")
    result = grade_notebook(sample_variant({"sample-mean-code": source}), limits=FAST)
    mean = next(part for part in result.parts if part.id == "sample-mean")
    assert mean.points == 0 and "malformed reply" in mean.feedback[0]
