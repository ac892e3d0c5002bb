"""openai-python's own ``tests/api_resources`` tests for chat, embeddings and responses, run against a stub.

The tests ship in the SDK's source distribution. The sdist of the installed ``openai`` version is
fetched from the package index on first use (like any dependency; cached under
``build/openai-sdist/``), never copied into this project. Each test either passes or is skipped
by ``conformance/stub_table.py`` with the row of the conformance table in ``docs/stub.md`` that
explains the stub's error; anything else fails here.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from grader.stub import StubLLM, StubRequest, StubResponse

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "openai-sdist"
PLUGIN_DIR = Path(__file__).with_name("conformance")
SDK_TEST_MODEL, SERVED_AS = b'"gpt-6-astra"', b'"gpt-4o-mini"'
RESOURCE_TESTS = (
    "tests/api_resources/chat/test_completions.py",
    "tests/api_resources/chat/completions",
    "tests/api_resources/test_embeddings.py",
    "tests/api_resources/test_responses.py",
    "tests/api_resources/responses",
)


class SdkTestStub(StubLLM):
    """A stub that serves the made-up model id of the SDK's tests as ``gpt-4o-mini``.

    No account has that model (the stub's 404 for it is the real API's), but stopping there would
    leave the rest of every request unchecked; served as a real model, each request is checked
    parameter by parameter.
    """

    def handle(self, request: StubRequest) -> StubResponse:
        if SDK_TEST_MODEL in request.body:
            request = dataclasses.replace(request, body=request.body.replace(SDK_TEST_MODEL, SERVED_AS))
        return super().handle(request)


def fetch_sdist(version: str) -> Path:
    """The unpacked sdist of ``openai==version`` (downloaded once with pip, then cached)."""
    root = CACHE / f"openai-{version}"
    if (root / "tests" / "api_resources").is_dir():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run([*command, f"openai=={version}", "-d", tmp], capture_output=True, text=True)
        archives = list(Path(tmp).glob("openai-*.tar.gz"))
        if done.returncode or not archives:
            pytest.fail(
                f"could not fetch the source distribution of openai {version} from the package index "
                f"(pip download failed; the index must be reachable for this test):\n{done.stderr[-2000:]}"
            )
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(archives[0]) as tar:  # the "data" filter refuses links and paths out of the folder
            tar.extractall(unpacked, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        shutil.rmtree(root, ignore_errors=True)
        (unpacked / root.name).replace(root)  # complete or absent: an interrupted fetch leaves nothing
    return root


def run_resource_tests(source: Path, base_url: str, junit: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TEST_API_BASE_URL": base_url,
        "PYTHONPATH": str(PLUGIN_DIR),
        "STUB_CONFORMANCE_DOC": str(ROOT / "docs" / "stub.md"),
    }
    command = [sys.executable, "-m", "pytest", "-p", "stub_table", "-p", "no:cacheprovider", "-o", "addopts="]
    return subprocess.run(
        [*command, "-q", "--tb=line", f"--junitxml={junit}", *RESOURCE_TESTS],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """``(test id, outcome, message)`` for each test case in a JUnit XML report."""
    found = []
    for case in ET.parse(junit).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        detail = next(iter(case), None)
        outcome = "passed" if detail is None or detail.tag in ("system-out", "system-err") else detail.tag
        message = "" if outcome == "passed" else (detail.get("message") or detail.text or "")
        found.append((test_id, outcome, message))
    return found


@pytest.mark.slow
def test_openai_resource_tests_pass_or_skip_with_a_table_reason(tmp_path: Path) -> None:
    source = fetch_sdist(importlib.metadata.version("openai"))
    junit = tmp_path / "junit.xml"
    with SdkTestStub().serve() as server:
        done = run_resource_tests(source, server.base_url, junit)
    assert junit.exists(), f"the SDK's tests did not run:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    results = outcomes(junit)
    failed = [(t, m) for t, outcome, m in results if outcome in ("failure", "error")]
    assert not failed, f"{len(failed)} of the SDK's resource tests failed against the stub, e.g.:\n" + "\n".join(
        f"{t}: {m[:300]}" for t, m in failed[:10]
    )
    skips = [m for _, outcome, m in results if outcome == "skipped"]
    unexplained = [m for m in skips if "docs/stub.md conformance row [" not in m]
    assert not unexplained, f"skips without a conformance-table reason: {unexplained[:5]}"
    passed = sum(outcome == "passed" for _, outcome, _ in results)
    by_row = Counter(m.split("]:")[0].split("row [")[1] for m in skips)
    print(f"\n{passed} passed, {len(skips)} skipped by row:\n" + "\n".join(f"{n:4d}  {r}" for r, n in by_row.items()))
    assert passed >= 40, f"only {passed} of the SDK's resource tests passed: the stub answers too little"
    assert done.returncode == 0, done.stdout[-3000:]
