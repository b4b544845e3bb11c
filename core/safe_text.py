"""Data shown as text: CSV that a spreadsheet will not run, strings a terminal will not obey.

**CSV** (OWASP "CSV injection"). A CSV opened in Excel, LibreOffice or Google
Sheets runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, per
OWASP, a tab or a carriage return) as a formula, so a site name or a raw rejected line such as
``=HYPERLINK("https://evil.example","click")`` in a download becomes a live link
or a command. :func:`neutralise_cell` prefixes such a text with a single quote
``'``, which the spreadsheet shows as text. Only *text* cells are changed: a
negative number stays a number (its column is numeric, not String).

:func:`to_csv` renders a frame that way (times ISO 8601 UTC); the dashboard's
downloads and ``fpi ... --format csv`` both use it.

**Terminal.** :func:`printable` shows ANSI escape sequences and other control
characters from the data as visible escapes instead of letting them act on
the screen (``fpi ... --format table``). No Streamlit, no database: polars only.
"""

from __future__ import annotations

import io
import re

import polars as pl

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""

QUOTE = "'"
"""What is put in front of a dangerous cell: spreadsheets show the rest as text."""

_DANGEROUS = r"^[=+\-@\t\r]"


def neutralise_cell(text: str) -> str:
    """``text`` made safe for a spreadsheet cell.

    ``"=1+1"`` → ``"'=1+1"``, ``"-5"`` (a *string*) → ``"'-5"``, ``"@SUM(A1)"`` →
    ``"'@SUM(A1)"``; anything else (``""``, ``"DC-ATL"``, ``" =x"`` with a leading
    space, an already neutralised ``"'=x"``) is returned unchanged. Applying it
    twice gives the same result as once.
    """
    if text.startswith(FORMULA_PREFIXES):
        return QUOTE + text
    return text


def safe_csv_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text cell passed through :func:`neutralise_cell`.

    Columns of type String, Categorical and Enum are neutralised (the last two
    become String); nulls stay null; numeric, boolean and time columns are
    returned as they are, so negative numbers are written as numbers. Column
    names are not changed (they come from the code, not from the data). An
    empty frame, or one without a text column, is returned as it is.
    """
    text_cols = [
        name
        for name, dtype in df.schema.items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    if not text_cols:
        return df
    exprs = []
    for name in text_cols:
        col = pl.col(name).cast(pl.String)
        exprs.append(
            pl.when(col.str.contains(_DANGEROUS))
            .then(pl.lit(QUOTE) + col)
            .otherwise(col)
            .alias(name)
        )
    return df.with_columns(exprs)


def to_csv(df: pl.DataFrame) -> str:
    """CSV with a header; times ISO 8601 UTC; empty cells for nulls.

    Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@`` ...) are prefixed with ``'`` (:mod:`core.safe_text`); numbers stay numbers.
    """
    times = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
    out = safe_csv_frame(df).with_columns(
        [pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ") for c in times]
    )
    buf = io.StringIO()
    out.write_csv(buf)
    return buf.getvalue()


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def printable(text: str) -> str:
    """``text`` safe for a terminal: ANSI escape sequences and other control
    characters (NUL, backspace, carriage return, C1 controls ...) are shown as
    visible escapes (``\\x1b``, ``\\x00``) instead of acting on the screen."""

    def esc(ch: str) -> str:
        return ch.encode("unicode_escape").decode("ascii")

    text = _ANSI.sub(lambda m: "".join(esc(c) if not c.isprintable() else c for c in m[0]), text)
    return "".join(ch if ch.isprintable() else esc(ch) for ch in text)
