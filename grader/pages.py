"""The HTML the kit writes (a check's panel in Jupyter, feedback pages, the batch report),
rendered from the Jinja2 templates in ``grader/templates`` with autoescaping on, so nothing
a learner wrote can turn into markup. Pages are self-contained: styles inline, images as data.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from grader.engine.render import points_text

_CODE_CLASS = "code"


@functools.cache
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass=_CODE_CLASS, linenos="inline", style="default")


def highlighted(source: str) -> Markup:
    """Learner code as numbered, highlighted HTML (Pygments escapes it)."""
    return Markup(highlight(source, PythonLexer(), _formatter()))


def code_style() -> Markup:
    """The CSS for :func:`highlighted` blocks, to inline in a page's <style>."""
    return Markup(_formatter().get_style_defs(f".{_CODE_CLASS}"))


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("grader", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = points_text
    env.filters["highlight"] = highlighted
    env.globals["code_style"] = code_style
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
