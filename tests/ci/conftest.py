"""Notebooks in the states CI meets, and a kit installed from its wheel into a fresh venv."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).parent / "schemas"
SAMPLE_SOLUTION = ROOT / "solutions" / "00_sample.ipynb"
SAMPLE_EXERCISE = ROOT / "exercises" / "00_sample.ipynb"

# Sources that replace a cell (by grade_id) of the sample solution.
VARIANTS = {
    "solution": {},
    # Forgets to divide: sample-mean fails its assertion, so its feedback carries the hint.
    "wrong": {"sample-mean-code": "def mean(values):\n    return float(sum(values))\n"},
    "syntax": {"sample-mean-code": "def mean(values:\n    return 0.0\n"},
    "locked": {"sample-ask": "print('I changed the check cell')\n"},
}


def write_sample(path: Path, variant: str) -> Path:
    """The sample exercise as a learner might hand it in: see VARIANTS; "exercise" is the released notebook."""
    if variant == "exercise":
        path.write_text(SAMPLE_EXERCISE.read_text())
        return path
    raw = json.loads(SAMPLE_SOLUTION.read_text())
    for cell in raw["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in VARIANTS[variant]:
            cell["source"] = VARIANTS[variant][grade_id]
    path.write_text(json.dumps(raw))
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a learner's shell: no course override, no path into this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_COURSE_DIR", "PYTHONPATH", "GITHUB_STEP_SUMMARY")}
    return {**env, **extra}


@pytest.fixture(scope="session")
def kit_wheel(tmp_path_factory) -> Path:
    """The kit's wheel, built as a user would build it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    return next(out.glob("*.whl"))


KIT_ENTRIES = ("ai_engineer_kit", "__editable__", "grader")


def fresh_venv(where: Path) -> Path:
    """A new venv without the kit. Its third-party packages are this venv's, linked in through a
    .pth file (so no download is needed), but the kit itself is left out: what imports as
    ``grader`` there is only what pip installs into it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(where), "platbase": str(where)})["purelib"])
    links = where / "third-party"
    links.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(KIT_ENTRIES):
            (links / entry.name).symlink_to(entry)
    (site / "third-party.pth").write_text(f"{links}\n")
    return where / "bin"


@pytest.fixture(scope="session")
def installed_kit(tmp_path_factory, kit_wheel) -> Path:
    """The bin folder of a fresh venv with the kit installed from its wheel."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("venv") / "venv")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--quiet", str(kit_wheel)],
                   check=True, capture_output=True)
    return bin_dir


@pytest.fixture
def sample(tmp_path):
    """sample(variant, name=...) writes the sample exercise in that state (see VARIANTS) into tmp_path."""

    def make(variant: str, name: str | None = None, folder: Path | None = None) -> Path:
        folder = folder or tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        return write_sample(folder / (name or f"{variant}.ipynb"), variant)

    return make
