"""Grading in CI and on course platforms: many notebooks at once, a pytest plugin, and the
files CI tools and platforms read (JUnit XML, a Markdown summary, Classroom 50's
``result.json``, Gradescope's ``results.json`` and autograder zip).

Everything here works from :func:`grader.engine.grade.grade_notebook` and its ``Result``
objects; the totals every output reports are those of ``grader check --json``.
"""
