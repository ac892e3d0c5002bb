"""Files the kit writes for the places that grade learners' work: a GitHub Actions workflow
for learners' repositories and a Classroom 50 ``autograder.py``.

Both install the kit with pip from *install* (a requirement such as ``ai-engineer-kit==0.1.0``,
a ``git+https://...`` URL or a wheel's path) and then run ``grader check``.
"""

from __future__ import annotations

import shlex
import sys
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from string import Template

DISTRIBUTION = "ai-engineer-kit"


def template(name: str) -> Template:
    return Template(files("grader.ci").joinpath("templates", name).read_text(encoding="utf-8"))


def default_install() -> str:
    """This very version of the kit, from the package index."""
    return f"{DISTRIBUTION}=={metadata.version(DISTRIBUTION)}"


def workflow(install: str, paths: list[str], pass_mark: float, python: str | None = None) -> str:
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    return template("grade.yml").substitute(
        install=shlex.quote(install), paths=" ".join(map(shlex.quote, paths)), pass_mark=f"{pass_mark:g}",
        python=python)


def classroom50_autograder(install: str, paths: list[str]) -> str:
    return template("classroom50_autograder.py.tmpl").substitute(install=repr(shlex.split(install)), paths=repr(paths))


def write_new(path: Path, text: str, force: bool) -> None:
    """Write *path*, refusing to overwrite a file the user may have edited unless *force*."""
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
