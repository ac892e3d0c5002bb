"""Batch progress: a live bar on a terminal, a few plain lines in a log."""

import io

from grader.batch.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_at_most_one_plain_line_per_tenth():
    log = io.StringIO()
    progress = Progress(95, log)
    for index in range(95):
        progress.advance(f"learner{index:03d}/sample")
    progress.close()
    lines = log.getvalue().splitlines()
    assert 10 <= len(lines) <= 11 and "\x1b" not in log.getvalue()
    assert lines[-1].startswith("graded 95/95 (") and lines[-1].endswith("learner094/sample")


def test_on_a_terminal_one_bar_redrawn_in_place():
    screen = Terminal()
    progress = Progress(3, screen)
    for index in range(3):
        progress.advance(f"learner{index}")
    progress.close()
    drawn = screen.getvalue()
    assert "3/3" in drawn and "━" in drawn and "learner2" in drawn
    assert drawn.count("\n") <= 2, "redrawn in place, not a line per submission"
