"""docker-compose.yml is valid and honest (no Docker engine here: validated, not run)."""

from __future__ import annotations

import re
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
    services = subprocess.run(
        ["docker-compose", "config", "--services"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {"broker", "topic", "stream", "producer", "dashboard", "ingest"} <= set(services)
    published = re.findall(r"^\s*- (\S+:\d+:\d+)(?:/tcp)?$", proc.stdout, re.M)
    assert published and all(p.startswith("127.0.0.1:") for p in published), published


def test_compose_live_path_is_wired() -> None:
    """Broker -> producer (sample rebased to now) -> stream -> the volume the dashboard reads."""
    text = (ROOT / "docker-compose.yml").read_text()
    assert "redpandadata/redpanda" in text and "--mode=dev-container" in text
    assert "--partitions 3" in text
    assert re.search(r'"produce", "sample_streams/demo.jsonl.gz", "--brokers", "broker:9092"', text)
    assert '"--rebase-to-now"' in text
    assert re.search(r'"stream", "--brokers", "broker:9092", "--topic", "fpi-events"', text)
    assert text.count('"--db", "/data/fpi.duckdb"') == 2  # written by stream, read by dashboard
    assert "fpi-data:/data:ro" in text


def test_compose_refers_to_files_that_exist() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "sample_streams/demo.jsonl.gz" in text
    assert (ROOT / "sample_streams").is_dir()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
