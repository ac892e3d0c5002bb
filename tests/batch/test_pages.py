"""The report and a feedback page, screenshotted in headless Chromium: they render as a reader
sees them (plots decoded, panels coloured, code highlighted), offline, from one file each.

``UPDATE_SCREENSHOTS=1 pytest tests/batch/test_pages.py`` also copies the pictures into
``docs/images/`` (the README shows the report's).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"
WIDTH = 1000


def screenshot(browser, page: Path, target: Path, height: int) -> np.ndarray:
    """A PNG of *page* as Chromium draws it, with networking off: a self-contained page needs none."""
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={target.parent / 'profile'}", "--proxy-server=127.0.0.1:9",
         f"--window-size={WIDTH},{height}", "--virtual-time-budget=5000", f"--screenshot={target}", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and target.exists(), done.stderr[-2000:]
    return np.asarray(Image.open(target).convert("RGB"), dtype=float) / 255


def share_of(pixels: np.ndarray, colour: str) -> float:
    """Fraction of pixels within a small distance of *colour* ('#rrggbb')."""
    rgb = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return float((np.abs(pixels - rgb).max(axis=2) < 0.012).mean())


def test_report_and_feedback_page_render_in_chromium(demo, browser, tmp_path):
    _, out = demo
    for page in (out / "report.html", out / "feedback" / "boris" / "sample.html"):
        text = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"{page.name} loads nothing from the web"

    report = screenshot(browser, out / "report.html", tmp_path / "report.png", 1500)
    assert report.shape[:2] == (1500, WIDTH)
    assert share_of(report, "#2da44e") > 0.002, "the pass-rate bars are drawn"
    assert share_of(report, "#1f2328") > 0.002, "text is drawn"

    page = screenshot(browser, out / "feedback" / "boris" / "sample.html", tmp_path / "feedback.png", 900)
    assert share_of(page, "#cf222e") > 0.0001, "the failed part's red border and points"
    assert share_of(page, "#1a7f37") > 0.0001, "the passed part's green border and points"
    assert 0.01 < share_of(page, "#f6f8fa") < 0.5, "the learner's code block"
    assert share_of(page, "#008000") > 0.00005, "the code is highlighted (Pygments' keyword green)"

    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "report.png", DOCS / "report.png")
        shutil.copy(tmp_path / "feedback.png", DOCS / "feedback.png")
