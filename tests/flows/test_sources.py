"""The JSON Lines source: folders, gzip, positions, arrival order."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from flows.sources import Chunk, JsonLinesSource, Progress, arrival_seq, expand_paths


def test_folders_expand_by_name_and_skip_other_files(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text("{}\n")
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.ndjson").write_text("{}\n")
    names = [p.name for p in expand_paths([tmp_path]).files]
    assert names == ["a.jsonl.gz", "b.jsonl", "c.ndjson"]


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        expand_paths([tmp_path / "nope.jsonl"])
    with pytest.raises(ValueError):
        expand_paths([tmp_path])


def _drain(part: object) -> list[Chunk]:
    chunks: list[Chunk] = []
    try:
        while True:
            chunks.extend(part.next_batch())  # type: ignore[attr-defined]
    except StopIteration:
        pass
    return chunks


def test_partition_reads_chunks_with_positions_and_resumes(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl.gz"
    f.write_bytes(gzip.compress(b"".join(f'{{"n": {i}}}\n'.encode() for i in range(5))))
    src = JsonLinesSource([f.resolve()], run_id=3, chunk_lines=2)
    part = src.build_part("read", "files", (0, 1))
    chunks = _drain(part)
    assert [c.first_offset for c in chunks] == [2, 4]
    assert [len(c.lines) for c in chunks] == [2, 2]
    assert chunks[0].first_seq == arrival_seq(3, 0, 2)
    assert part.snapshot() == (1, 0)


def test_files_are_read_one_after_the_other_in_the_order_given(tmp_path: Path) -> None:
    a = tmp_path / "z.jsonl"
    b = tmp_path / "a.jsonl"
    a.write_text("".join(f'{{"a": {i}}}\n' for i in range(5)))
    b.write_text("".join(f'{{"b": {i}}}\n' for i in range(3)))
    src = JsonLinesSource([a, b], run_id=1, chunk_lines=2)
    chunks = _drain(src.build_part("read", "files", None))
    assert [(Path(c.source).name, c.first_offset, len(c.lines)) for c in chunks] == [
        ("z.jsonl", 1, 2),
        ("z.jsonl", 3, 2),
        ("z.jsonl", 5, 1),
        ("a.jsonl", 1, 2),
        ("a.jsonl", 3, 1),
    ]
    seqs = [c.first_seq for c in chunks]
    assert seqs == sorted(seqs)


def test_a_truncated_gzip_keeps_its_good_lines_and_reports_the_fault(tmp_path: Path) -> None:
    body = b"".join(f'{{"n": {i}, "pad": "{"x" * 40}"}}\n'.encode() for i in range(20000))
    whole = gzip.compress(body)
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    good = tmp_path / "good.jsonl"
    good.write_text('{"ok": 1}\n')
    progress = Progress()
    src = JsonLinesSource([broken, good], run_id=1, chunk_lines=1000, progress=progress)
    chunks = _drain(src.build_part("read", "files", None))
    faults = [c for c in chunks if c.fault is not None]
    assert len(faults) == 1 and faults[0].source == str(broken)
    read = sum(len(c.lines) for c in chunks if c.source == str(broken))
    assert 0 < read < 20000
    assert f"{read:,} lines read before the fault" in faults[0].fault  # type: ignore[operator]
    assert "truncated" in faults[0].fault  # type: ignore[operator]
    assert chunks[-1].source == str(good) and chunks[-1].lines == [b'{"ok": 1}\n']
    assert len(progress.faults) == 1 and str(broken) in progress.faults[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"this is not gzip\n", "not a gzip file"), (b"\x1f\x8b\x08\x00garbage" * 9, "")],
)
def test_a_file_that_is_not_gzip_is_a_fault_not_a_crash(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    f = tmp_path / "x.jsonl.gz"
    f.write_bytes(content)
    chunks = _drain(JsonLinesSource([f], run_id=1).build_part("read", "files", None))
    assert len(chunks) == 1 and chunks[0].lines == [] and chunks[0].fault is not None
    assert expected in chunks[0].fault
    assert chunks[0].fault.endswith("0 lines read before the fault")


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(f)
    os.link(f, tmp_path / "hard.jsonl")
    found = expand_paths([f, tmp_path / "link.jsonl", Path(str(f)), tmp_path / "hard.jsonl"])
    assert found.files == [f.resolve()]
    assert [name.name for name, _ in found.repeated] == ["link.jsonl", "a.jsonl", "hard.jsonl"]


def test_arrival_seq_orders_runs_then_files_then_lines() -> None:
    assert arrival_seq(1, 5, 99) < arrival_seq(2, 0, 1)
    assert arrival_seq(1, 0, 10**6) < arrival_seq(1, 1, 1)
