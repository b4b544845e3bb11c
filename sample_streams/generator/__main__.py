"""``python -m sample_streams.generator``: regenerate the shipped demo file."""

from __future__ import annotations

from .demo import DEMO_PATH, write_demo

if __name__ == "__main__":
    summary = write_demo()
    print(f"wrote {DEMO_PATH}: {summary}")
