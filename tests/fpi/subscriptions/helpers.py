"""Configs for the subscription tests: TOML text from plain data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.fpi.subscriptions.smtp import SmtpServer

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """A TOML value for the few types the tests write."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def config_text(smtp: dict[str, Any] | None, subscriptions: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    if smtp is not None:
        lines.append("[smtp]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in smtp.items()]
    for sub in subscriptions:
        lines += ["", "[[subscriptions]]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"


def smtp_table(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    """``[smtp]`` for the test server (plain SMTP on loopback)."""
    return {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from": "fpi reports <fpi@reports.example>",
        **extra,
    }


def write_config(
    tmp: Path, smtp: dict[str, Any] | None, subscriptions: list[dict[str, Any]]
) -> Path:
    path = tmp / "fpi.toml"
    path.write_text(config_text(smtp, subscriptions), encoding="utf-8")
    return path


def daily(name: str = "ops-daily", **extra: Any) -> dict[str, Any]:
    """A daily 07:00 America/New_York JSON report to two recipients."""
    sub: dict[str, Any] = {
        "name": name,
        "to": ["ops@example.com", "Lead <lead@example.com>"],
        "format": "json",
        "cadence": "daily",
        "at": "07:00",
        "timezone": "America/New_York",
    }
    sub.update(extra)
    return sub
