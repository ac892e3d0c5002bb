"""Execute notebook cells the way Jupyter would, without a kernel.

Plain Python is compiled directly; a cell that is not valid Python (magics, ``!``
lines) goes through IPython's own input transformer, and an in-process IPython shell
is created only then, because importing it costs time most notebooks do not need.
Top-level ``await`` works as in Jupyter, on one event loop kept for the whole notebook.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
import traceback
from typing import Any

from grader.engine.clock import CLOCK
from grader.engine.deadline import Deadline, TimeLimit
from grader.engine.workspace import CappedText

CELL_FILENAME = "<cell {number}>"


class CellRunner:
    def __init__(self, namespace: dict[str, Any]):
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self.deadline = Deadline()
        self._shell = None

    def _transform(self, source: str) -> str:
        from IPython.core.inputtransformer2 import TransformerManager

        transformed = TransformerManager().transform_cell(source)
        if "get_ipython()" in transformed and self._shell is None:
            from IPython.core.interactiveshell import InteractiveShell

            self._shell = InteractiveShell.instance(user_ns=self.namespace)
            self._shell.history_manager.enabled = False
            self.namespace["get_ipython"] = lambda: self._shell
        return transformed

    def compile(self, source: str, number: int) -> Any:
        filename = CELL_FILENAME.format(number=number)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            return compile(source, filename, "exec", flags=flags, dont_inherit=True)
        except SyntaxError:
            transformed = self._transform(source)
            if transformed == source:
                raise
            return compile(transformed, filename, "exec", flags=flags, dont_inherit=True)

    def run(self, source: str, number: int, timeout: float) -> dict:
        """Run one cell, its sleeps virtual; returns its status, error and captured output. Never raises."""
        output = CappedText()
        result: dict[str, Any] = {"status": "ok"}
        saved = sys.stdout, sys.stderr
        try:
            with CLOCK.call(), self.deadline.limit(timeout):
                sys.stdout = sys.stderr = output
                code = self.compile(source, number)
                outcome = eval(code, self.namespace)
                if inspect.iscoroutine(outcome):
                    self.loop.run_until_complete(outcome)
        except TimeLimit:
            result = {"status": "timeout", "error": {"type": "TimeoutError", "message":
                      f"the cell ran longer than its {timeout:g} s limit"}}
        except BaseException as error:  # KeyboardInterrupt and SystemExit included: a cell's error
            result = {"status": "error", "error": describe_cell_error(error)}
        finally:
            sys.stdout, sys.stderr = saved
        result["output"] = output.getvalue()
        return result


def describe_cell_error(error: BaseException) -> dict:
    """The error as a learner would see it in Jupyter: only frames from notebook cells."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename.startswith("<cell ")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    message = lines[-1].strip() if lines else type(error).__name__
    if isinstance(error, SyntaxError) and error.lineno:
        message += f" (line {error.lineno})"
    return {"type": type(error).__name__, "message": message, "traceback": "".join(lines)[-4000:]}
