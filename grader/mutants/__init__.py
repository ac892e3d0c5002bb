"""``grader mutants``: how good are an exercise's checks? Plant small bugs in the solution's
answer code, grade each, and count how many lose points.

``mutate`` makes the mutants, ``equivalent`` reads the ones an author accepted as
behaving like the solution, ``cache`` remembers verdicts by content, ``run`` grades them
from warm workers and scores them, ``cli`` prints the report.
"""
