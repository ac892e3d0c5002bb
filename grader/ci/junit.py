"""JUnit XML, the test report every CI tool reads: a test suite per notebook, a test case
per graded part (a failure carries the learner feedback), an error per unusable notebook.

Points ride along as test suite properties (``score``, ``max_score``), since JUnit has no
field for them; their sum equals the total of ``grader check --json``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.ci.names import feedback_text, notebook_label, points, problem_text
from grader.ci.run import Report
from grader.engine import result as R


def junit_xml(report: Report) -> str:
    suites = ET.Element("testsuites", name=f"grader: {points(report.score)} / {points(report.max_score)} points")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for result in report.results:
        suite = _suite(result)
        suites.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key))
    suites.set("time", f"{sum(result.seconds for result in report.results):.3f}")
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(report: Report, path: str | Path) -> None:
    Path(path).write_text(junit_xml(report), encoding="utf-8")


def _suite(result: R.Result) -> ET.Element:
    label = notebook_label(result)
    suite = ET.Element("testsuite", name=label, file=result.notebook, time=f"{result.seconds:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("notebook", result.notebook), ("status", result.status),
                        ("score", points(result.score)), ("max_score", points(result.max_score))):
        ET.SubElement(properties, "property", name=name, value=str(value))
    failures = errors = 0
    if result.status == R.INVALID:
        case = ET.SubElement(suite, "testcase", name="notebook", classname=label, file=result.notebook)
        ET.SubElement(case, "error", type=R.INVALID, message=problem_text(result)).text = problem_text(result)
        errors = 1
    for part in result.parts:
        case = ET.SubElement(suite, "testcase", name=part.id, classname=label, file=result.notebook)
        ET.SubElement(case, "system-out").text = f"{points(part.points)} / {points(part.max_points)} points"
        if not part.passed:
            failures += 1
            message = " ".join(part.feedback) or "not all checks passed"
            ET.SubElement(case, "failure", type="not_passed", message=message).text = feedback_text(part)
    if result.problems and result.status != R.INVALID:
        ET.SubElement(suite, "system-err").text = problem_text(result)
    tests = len(result.parts) + (1 if result.status == R.INVALID else 0)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return suite
