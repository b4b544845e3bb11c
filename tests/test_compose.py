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


def _service(name: str) -> str:
    """The text of one service of docker-compose.yml (up to the next service)."""
    text = (ROOT / "docker-compose.yml").read_text()
    m = re.search(rf"^  {name}:\n(.*?)(?=^  \S|^\S|\Z)", text, re.M | re.S)
    assert m is not None, name
    return m.group(1)


def test_compose_scheduler_sends_due_reports_from_the_live_database() -> None:
    """`scheduler` loops `fpi reports send-due` on the database `stream` writes, with
    the volume writable (state and lock beside the database), after `stream` is up."""
    sched = _service("scheduler")
    assert 'profiles: ["reports"]' in sched
    assert "<<: *fpi" in sched and 'entrypoint: ["/bin/sh", "-c"]' in sched
    loop = re.search(r"while :; do\s+(.*?)\s+done", sched, re.S)
    assert loop is not None
    body = " ".join(loop.group(1).split())
    assert body.startswith("fpi reports send-due --db /data/fpi.duckdb;")
    assert re.search(r"sleep (\d+) & wait \$\$!;$", body)
    assert int(re.findall(r"sleep (\d+)", body)[0]) <= 300  # every few minutes at most
    assert "trap 'exit 0' TERM;" in sched  # `docker-compose stop` ends the loop at once
    assert "- fpi-data:/data  #" in sched and "fpi-data:/data:ro" not in sched
    assert re.search(r"stream:\s+condition: service_healthy", sched)
    assert "restart: unless-stopped" in sched


def test_compose_demo_subscriptions_are_valid_and_mail_the_catcher() -> None:
    """The scheduler's settings file ships in the image (fpi/ is copied) and is a valid
    configuration whose SMTP server is the `mail` service's SMTP port."""
    from core.config import load_settings
    from fpi.report import FORMATS
    from fpi.subscriptions.config import load_smtp, load_subscriptions

    sched = _service("scheduler")
    m = re.search(r"FPI_CONFIG: /app/(\S+)", sched)
    assert m is not None
    config = ROOT / m.group(1)
    assert config.is_file()
    assert "COPY fpi ./fpi" in (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in (ROOT / "Dockerfile").read_text()
    settings = load_settings(config)
    subs = load_subscriptions(settings.subscriptions, tuple(f.lstrip(".") for f in FORMATS))
    assert {s.name for s in subs} == {"ops-daily", "carriers-weekly"}
    assert all(s.format != "pdf" for s in subs)  # the image has no Chromium to print a PDF
    smtp = load_smtp(settings.smtp, {})
    assert (smtp.host, smtp.port, smtp.security) == ("mail", 1025, "none")
    mail = _service("mail")
    assert "image: axllent/mailpit:v" in mail and 'profiles: ["reports"]' in mail
    assert '"127.0.0.1:8025:8025"' in mail  # the catcher's inbox, loopback only
