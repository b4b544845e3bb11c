"""core.safe_text: text cells that start a spreadsheet formula are neutralised."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import polars as pl
import pytest

from core.safe_text import neutralise_cell, safe_csv_frame


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+41 22", "'+41 22"),
        ("-5", "'-5"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("DC-ATL", "DC-ATL"),
        ("", ""),
        (" =x", " =x"),
        ("'=x", "'=x"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_cell(cell: str, safe: str) -> None:
    assert neutralise_cell(cell) == safe
    assert neutralise_cell(neutralise_cell(cell)) == safe  # idempotent


def test_safe_csv_frame_changes_text_cells_only() -> None:
    t = datetime(2026, 5, 4, tzinfo=UTC)
    df = pl.DataFrame(
        {
            "site": ["=cmd|' /C calc'!A0", "DC-ATL", None, "-2"],
            "delta": [-1, 2, 3, -4],
            "hours": [-1.5, 0.0, None, 2.0],
            "flag": [True, False, None, True],
            "at": [t, t, None, t],
            "cause": pl.Series(["@x", "b", "c", "+y"]).cast(pl.Categorical),
        }
    )
    out = safe_csv_frame(df)
    assert out["site"].to_list() == ["'=cmd|' /C calc'!A0", "DC-ATL", None, "'-2"]
    assert out["cause"].to_list() == ["'@x", "b", "c", "'+y"]
    for col in ("delta", "hours", "flag", "at"):
        assert out[col].equals(df[col]) and out.schema[col] == df.schema[col]
    buf = io.StringIO()
    out.write_csv(buf)
    lines = buf.getvalue().splitlines()
    assert lines[2].startswith("DC-ATL,2,0.0,false,")
    assert lines[4].startswith("'-2,-4,2.0,true,")  # the number -4 stays a number


def test_safe_csv_frame_without_text_columns_or_rows() -> None:
    nums = pl.DataFrame({"n": [-1, -2]})
    assert safe_csv_frame(nums) is nums
    empty = pl.DataFrame({"s": []}, schema={"s": pl.String})
    assert safe_csv_frame(empty).height == 0
    assert safe_csv_frame(pl.DataFrame()).shape == (0, 0)
