"""The JSON Lines source: folders, gzip, positions, arrival order."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from flows.sources import JsonLinesSource, arrival_seq, expand_paths


def test_folders_expand_by_name_and_skip_other_files(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text("{}\n")
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.ndjson").write_text("{}\n")
    names = [p.name for p in expand_paths([tmp_path])]
    assert names == ["a.jsonl.gz", "b.jsonl", "c.ndjson"]


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        expand_paths([tmp_path / "nope.jsonl"])
    with pytest.raises(ValueError):
        expand_paths([tmp_path])


def test_partition_reads_chunks_with_positions_and_resumes(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl.gz"
    f.write_bytes(gzip.compress(b"".join(f'{{"n": {i}}}\n'.encode() for i in range(5))))
    src = JsonLinesSource([f.resolve()], run_id=3, chunk_lines=2)
    part = src.build_part("read", str(f.resolve()), 1)
    chunks = []
    try:
        while True:
            chunks.extend(part.next_batch())
    except StopIteration:
        pass
    assert [c.first_offset for c in chunks] == [2, 4]
    assert [len(c.lines) for c in chunks] == [2, 2]
    assert chunks[0].first_seq == arrival_seq(3, 0, 2)
    assert part.snapshot() == 5


def test_arrival_seq_orders_runs_then_files_then_lines() -> None:
    assert arrival_seq(1, 5, 99) < arrival_seq(2, 0, 1)
    assert arrival_seq(1, 0, 10**6) < arrival_seq(1, 1, 1)
