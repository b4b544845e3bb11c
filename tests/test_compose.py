"""docker-compose.yml is valid and honest (no Docker engine here: validated, not run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="Debian's docker-compose is installed by ./dev test",
)
def test_compose_config_is_valid() -> None:
    proc = subprocess.run(
        ["docker-compose", "config"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "dashboard" in proc.stdout and "ingest" in proc.stdout
    assert "127.0.0.1:8501:8501" in proc.stdout  # the published port stays on loopback


def test_compose_refers_to_files_that_exist() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "sample_streams/demo.jsonl.gz" in text
    assert (ROOT / "sample_streams").is_dir()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
