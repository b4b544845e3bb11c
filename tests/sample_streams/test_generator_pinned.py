"""Pins the generator's exact output, so that no change to it goes unnoticed.

The demo, the tests of other packages and the benchmarks rely on the generator
being a pure function of :class:`GeneratorConfig`: the same configuration must
give the same bytes, release after release. These digests were taken before
``sample_streams/generator.py`` was split into a package and are unchanged by
the split.

If you change the generator **on purpose** (a new field, different mess, other
distributions), update the constants below in the same change, regenerate the
shipped demo file (``.venv/bin/python -m sample_streams.generator``) and say so
in the commit message: every stream anyone generated before will differ.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sample_streams.generator import (
    DEMO_PATH,
    GeneratorConfig,
    generate_labelled,
    write_stream,
)

MESSY = GeneratorConfig(days=2.5, lines_per_day=4_000, seed=11)
CLEAN = GeneratorConfig(
    start=datetime(2026, 1, 31, 22, tzinfo=timezone(timedelta(hours=-5))),
    days=1.5,
    lines_per_day=3_000,
    seed=5,
    mess=False,
)
TINY = GeneratorConfig(days=1, lines_per_day=2_000, seed=7)

# (configuration, file name, sha256 of the file, sha256 of "label<TAB>line\n" per line)
PINNED = [
    pytest.param(
        MESSY,
        "messy.jsonl",
        "f393cb9028f8142eb8d198f18409ed4899b840c0b9dc2222df3c0bf944e8ed6f",
        "e375f8f6a7b1de25537eeda17a6cf420b4c4ce520782cc4f1d3720e45c1ef429",
        id="messy-2.5-days",
    ),
    pytest.param(
        CLEAN,
        "clean.jsonl",
        "be052cd66130d4b312d32f814d2f4ca0e97daf3c5b3083e8f977b3f34a39bbc9",
        "827780c57a9bdd8514b47e7808008793d70514a5743e1a9181c84d84d2cd1693",
        id="clean-offset-start",
    ),
    pytest.param(
        TINY,
        "tiny.jsonl.gz",
        "5555e1eb1ec5ebaa054e7f141ef15fb2ce05cfaefa2ba7f45d78e3197bd922af",
        "521c9f71678d140b2bdbb4563bf7af3458ef1a962d3e852006e687cb949202dc",
        id="gzip",
    ),
]

DEMO_SHA256 = "94fde9d009011df7c48eebbbb1ab5706358ca7794c5f7fa57de71321d07d6d97"


@pytest.mark.parametrize(("cfg", "name", "file_sha", "labelled_sha"), PINNED)
def test_output_is_pinned(
    tmp_path: Path, cfg: GeneratorConfig, name: str, file_sha: str, labelled_sha: str
) -> None:
    path = tmp_path / name
    write_stream(path, cfg)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == file_sha
    h = hashlib.sha256()
    for line, label in generate_labelled(cfg):
        h.update(f"{label}\t{line}\n".encode())
    assert h.hexdigest() == labelled_sha


def test_summary_is_pinned(tmp_path: Path) -> None:
    summary = write_stream(tmp_path / "messy.jsonl", MESSY)
    assert summary.as_dict() == {
        "lines": 7039,
        "events": 6945,
        "duplicates": 73,
        "conflicting_duplicates": 4,
        "bad_lines": 21,
        "rejects": {
            "invalid_json": 3,
            "schema": 3,
            "unknown_event_type": 3,
            "unsupported_version": 3,
            "naive_timestamp": 3,
            "unknown_currency": 3,
            "duplicate_open": 3,
        },
        "blank_lines": 7,
        "orders": 2201,
        "order_lines": 8889,
        "exceptions": 94,
        "planted_exceptions": 15,
        "open_at_end": 25,
        "cancelled": 2,
        "first_occurred_at": "2026-05-04T00:03:18Z",
        "data_clock": "2026-05-06T11:59:33.000Z",
    }


def test_shipped_demo_file_is_pinned() -> None:
    """The shipped demo file has not changed (``test_demo_file_is_current`` checks that
    it still matches the generator)."""
    assert hashlib.sha256(DEMO_PATH.read_bytes()).hexdigest() == DEMO_SHA256
