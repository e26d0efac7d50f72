"""The paper's sentences with numbers: Markdown templates in voltlib/paper/templates/, filled from results.

A template is Markdown with named fields (Jinja2 syntax: `{{ r2 | num }}`, `{% if leak %}...{% endif %}`).
A field the caller did not pass is an error, never an empty string. A line that holds only block tags
(`{% if %}`, `{% endif %}`, a `{# comment #}`) leaves nothing behind; every other line ends where it is
written (keep_line_ends). Templates are wrapped at any width: `render` joins each paragraph's lines into
one (list items stay items), so the text does not depend on where a line of the template was broken.

Filters: num (a number formatted by a spec, default ".3f"), pct (a share as a percentage), pct_interval,
interval (display.ci_words), with_interval, say (a comparison's words, summary.say), name
(display.name), count (display.count), vs (one word or another as a number compares with another).
The global `missing` is the words for a value no notebook has written. `items` reads a rendered list back
as its sentences (notebook 07's findings, which analysis.json keeps as a list).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from voltlib import display
from voltlib.paper import summary

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".md"
_TAG = re.compile(r"\{%.*?%\}")
_SPACES = re.compile(r"[ \t]+")
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")


class TemplateError(ValueError):
    """A template is missing, or a field it names was not given."""


def _vs(a, b, above: str = "above", below: str = "below") -> str:
    """`above` when a > b, `below` otherwise, and summary.MISSING when either is missing."""
    if a is None or b is None:
        return summary.MISSING
    return above if a > b else below


def keep_line_ends(source: str) -> str:
    """Template source where a block tag that ends a line of text keeps that line's end (`+%}`).

    Jinja's trim_blocks removes the newline after every block tag, which lets a line that holds only a
    `{% if %}` vanish, but also glues a line that ends in `{% endif %}` to the next one, or swallows the
    blank line after it that ends a paragraph. With this rule a line of tags alone vanishes and every other
    line ends where it is written.
    """
    out = []
    for line in source.split("\n"):
        stripped = line.rstrip()
        text_left = _TAG.sub("", stripped).strip()
        if text_left and stripped.endswith("%}") and not stripped.endswith(("+%}", "-%}")):
            line = stripped[:-2] + "+%}"
        out.append(line)
    return "\n".join(out)


class _Loader(jinja2.FileSystemLoader):
    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        return keep_line_ends(source), filename, uptodate


def _given(fn):
    """A filter that refuses an undefined field (StrictUndefined fails when printed, not when filtered)."""

    def checked(*args, **kwargs):
        for a in (*args, *kwargs.values()):
            if isinstance(a, jinja2.Undefined):
                a._fail_with_undefined_error()
        return fn(*args, **kwargs)

    return checked


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_Loader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown, not HTML: a '<' in a sentence stays a '<'
        keep_trailing_newline=False,
    )
    env.globals["missing"] = summary.MISSING  # what a sentence says of a value no notebook wrote
    filters = dict(
        num=summary.num,
        pct=summary.pct,
        pct_interval=summary.pct_interval,
        interval=display.ci_words,
        with_interval=display.with_interval,
        say=summary.say,
        name=display.name,
        count=display.count,
        vs=_vs,
    )
    env.filters.update({name: _given(fn) for name, fn in filters.items()})
    return env


_ENV = _environment()


def names() -> list[str]:
    """The templates there are, by the name render() takes."""
    return sorted(p.name.removesuffix(SUFFIX) for p in TEMPLATES.glob(f"*{SUFFIX}"))


def _join_paragraph(block: str) -> str:
    """A paragraph's lines as one line, or a list's items each on one line."""
    items: list[str] = []
    for line in block.splitlines():
        text = _SPACES.sub(" ", line).strip(" \t")  # not str.split(): it would break the non-breaking spaces
        if not text:
            continue
        if _ITEM.match(line) or not items:
            items.append(text)
        else:
            items[-1] += " " + text
    return "\n".join(items)


def tidy(text: str) -> str:
    """Rendered template text with each paragraph on one line, runs of spaces as one, blank lines as one."""
    blocks = (_join_paragraph(b) for b in re.split(r"\n\s*\n", text))
    return "\n\n".join(b for b in blocks if b)


def items(text: str) -> list[str]:
    """The items of a rendered Markdown list (render's output, one item a line), each without its marker."""
    return [_ITEM.sub("", line, count=1) for line in text.splitlines() if _ITEM.match(line)]


def render(name: str, **fields) -> str:
    """The template `name` (voltlib/paper/templates/<name>.md) filled with fields, tidied."""
    try:
        template = _ENV.get_template(name + SUFFIX)
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"No template {name!r}: expected one of {', '.join(names())} in {TEMPLATES}. "
            "Add the file there or fix the name passed to prose.render."
        ) from None
    try:
        return tidy(template.render(**fields))
    except jinja2.UndefinedError as e:
        raise TemplateError(
            f"Template {name!r} needs a field that was not given ({e.message}); given: {', '.join(sorted(fields))}. "
            "Pass it to prose.render, or remove it from the template."
        ) from None
