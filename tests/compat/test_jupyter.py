"""The solution notebooks run top to bottom in a real Jupyter kernel, live against an
OpenAI-compatible server given by OPENAI_BASE_URL/OPENAI_API_KEY (here: a separate stub
process standing in for a real endpoint), and every in-notebook check() gives full points.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.engine.notebook import read_notebook

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint():
    server = subprocess.Popen([sys.executable, "-m", "grader", "stub", "serve", "--api-key", "sk-live-test"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base_url = server.stdout.readline().strip()
    yield base_url
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_solution_runs_live_in_jupyter_with_full_marks(solution, endpoint, tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": "sk-live-test", "OPENAI_BASE_URL": endpoint,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.timeout=120", "--output-dir", str(tmp_path), str(solution)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    executed = json.loads((tmp_path / solution.name).read_text())
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
