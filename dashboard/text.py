"""User-supplied values shown as text, never as Markdown or HTML.

Values from the URL (filters, the exception id, the as-of time) and from the
data (site names, root causes — any string up to 128 characters, such as
``[clickme](https://evil.example)``, ``**bold**``, ``___`` or ``<script>``)
reach Streamlit elements that render Markdown (captions, info/warning/error
boxes, ``st.markdown``) and Plotly figures, which render a subset of HTML
(``<a href>``, ``<br>``, ``<b>``) in titles, tick labels, bar text and hovers.

* :func:`md_literal` puts a value in a Markdown *code span*. Backslash escapes
  are not enough in Streamlit: GitHub-flavoured autolinks turn a bare
  ``https://…``, ``www.…`` or ``x@y.z`` into a link even when every punctuation
  mark is escaped, and emoji/icon shortcodes are replaced in text. Nothing
  inside a code span is interpreted (no link, emphasis, HTML, directive, math
  or shortcode), so the value is shown exactly, in a monospace chip.
* :func:`plot_text` escapes ``&``, ``<`` and ``>`` as HTML entities, which
  Plotly shows as the characters themselves; :func:`unplot_text` inverts it
  (values read back from a chart selection).

Pure functions: no Streamlit here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SHOWN = 200
"""Longest value shown in a message; longer ones are cut with ``…``."""

_BACKTICKS = re.compile(r"`+")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def md_literal(value: object, max_chars: int = MAX_SHOWN) -> str:
    """``value`` as a Markdown code span that renders as exactly its text.

    Edge cases: line breaks become spaces (a blank line would end the
    paragraph, and with it the code span); values longer than ``max_chars``
    are cut and end with ``…``; a value containing backticks is fenced with a
    longer run of backticks; one that starts or ends with a backtick, or starts
    *and* ends with a space, is padded with a space on each side (CommonMark
    strips exactly that padding); the empty string is shown as ``""``.
    ``None`` is shown as ``None``.
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)] + "…"
    if text == "":
        return '""'
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and text.strip(" ") != "")
    )
    if pad:
        text = f" {text} "
    return f"{fence}{text}{fence}"


def md_join(values: Iterable[object], sep: str = " or ") -> str:
    """Several values as code spans joined by ``sep`` (plain Markdown text)."""
    return sep.join(md_literal(v) for v in values)


def plot_text(value: object) -> str:
    """``str(value)`` with ``&``, ``<``, ``>`` as entities: Plotly shows it as text.

    ``None`` becomes ``"None"`` (as ``str`` does); callers pass strings.
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plot_texts(values: Iterable[object]) -> list[str]:
    """:func:`plot_text` of each value."""
    return [plot_text(v) for v in values]


def unplot_text(text: str) -> str:
    """The value behind a :func:`plot_text` label (e.g. the ``y`` of a clicked bar).

    Exactly inverts :func:`plot_text`; other text is returned unchanged
    except for those three entities.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
