"""The solution notebooks run top to bottom in a real Jupyter kernel, live against an
OpenAI-compatible server given by OPENAI_BASE_URL/OPENAI_API_KEY (here: a separate stub
process standing in for a real endpoint), and every in-notebook check() gives full points.

nbclient (what ``jupyter nbconvert --execute`` runs) executes every solution once per run from
this process, every kernel at once (the operating system shares the cores; the longest notebook no
longer waits for the others to finish); each test asserts on its own notebook.
"""

import asyncio
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from grader.engine.notebook import read_notebook

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint():
    server = subprocess.Popen([sys.executable, "-m", "grader", "stub", "serve", "--api-key", "sk-live-test"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base_url = server.stdout.readline().strip()
    yield base_url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def executed(endpoint) -> dict[str, dict | str]:
    """Each solution as saved after a run in its own kernel, or the traceback that stopped the run."""
    import nbformat
    from nbclient import NotebookClient

    env = {**os.environ, "OPENAI_API_KEY": "sk-live-test", "OPENAI_BASE_URL": endpoint,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    async def run(solution: Path) -> dict | str:
        notebook = nbformat.read(solution, as_version=4)
        client = NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(solution.parent)}})
        try:
            await client.async_execute(env=env)
        except Exception:  # the test reports it as that notebook's failure
            return traceback.format_exc()
        return json.loads(nbformat.writes(notebook))

    async def run_all() -> list[dict | str]:
        return await asyncio.gather(*(run(solution) for solution in SOLUTIONS))

    return dict(zip((solution.name for solution in SOLUTIONS), asyncio.run(run_all()), strict=True))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_runs_live_in_jupyter_with_full_marks(solution, executed):
    executed = executed[solution.name]
    assert isinstance(executed, dict), executed[-3000:]
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    assert not any("offline stub" in "".join(o.get("text", "")) for c in executed["cells"]
                   for o in c.get("outputs", [])), "with a key set, the notebook must not start its own stub"
    earned = [float("".join(o["data"]["text/plain"])) for c in executed["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "execute_result"]
    parts = read_notebook(solution).parts()
    assert len(earned) == len(parts)
    assert sum(earned) == sum(part.points for part in parts)
    for part in parts:
        outputs = executed["cells"][part.grade_cell.index]["outputs"]
        assert [o["output_type"] for o in outputs] == ["execute_result"], \
            f"check('{part.part_id}') shows one result (the panel), not a panel and an echo: {outputs}"
        assert part.part_id in "".join(outputs[0]["data"]["text/html"]) and "all checks passed" in \
            "".join(outputs[0]["data"]["text/html"])
