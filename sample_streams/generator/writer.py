"""Writing a stream to a file (plain or gzip), byte-for-byte reproducible."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from .config import GeneratorConfig
from .labels import LABEL_BLANK
from .stream import Stream
from .summary import GenerationSummary


def write_stream(path: Path, cfg: GeneratorConfig) -> GenerationSummary:
    """Write the stream to ``path`` (gzip when the name ends with ``.gz``); return its counts.

    The gzip header carries no file name and no time stamp, so the bytes are a pure
    function of ``cfg``.
    """
    path = Path(path)
    stream = Stream(cfg)
    lines = 0
    with path.open("wb") as raw:
        if path.name.endswith(".gz"):
            out: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
        else:
            out = raw
        try:
            buf: list[str] = []
            for line, label in stream:
                buf.append(line)
                if label != LABEL_BLANK:
                    lines += 1
                if len(buf) >= 8192:
                    out.write(("\n".join(buf) + "\n").encode())
                    buf.clear()
            if buf:
                out.write(("\n".join(buf) + "\n").encode())
        finally:
            if out is not raw:
                out.close()
    return stream.summary(lines)
