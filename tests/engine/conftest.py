import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "solutions" / "00_sample.ipynb"


@pytest.fixture
def sample_variant(tmp_path):
    """Write a copy of the sample solution with some cells changed: {grade_id: new source or None}."""

    def make(changes=None, extra_cells=(), name="submission.ipynb", mutate=None):
        raw = json.loads(SAMPLE.read_text())
        cells = []
        for cell in raw["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if changes and grade_id in changes:
                if changes[grade_id] is None:
                    continue
                cell["source"] = changes[grade_id]
            cells.append(cell)
        for position, source in extra_cells:
            cells.insert(position, {"cell_type": "code", "metadata": {}, "outputs": [],
                                    "execution_count": None, "source": source})
        raw["cells"] = cells
        if mutate:
            mutate(raw)
        path = tmp_path / name
        path.write_text(json.dumps(raw))
        return path

    return make
