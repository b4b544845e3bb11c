"""Subscriptions and [smtp] are validated with one-line errors naming the key."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from fpi.subscriptions.config import (
    DEFAULT_MAX_CATCH_UP,
    load_smtp,
    load_subscriptions,
)

FORMATS = ("pdf", "xlsx", "html", "md", "json", "csv")


def _sub(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "ops-daily",
        "to": "ops@example.com",
        "format": "pdf",
        "cadence": "daily",
    }
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not None}


def _error(raw: list[Any]) -> str:
    with pytest.raises(ValueError) as info:
        load_subscriptions(raw, FORMATS)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_defaults_and_normalisation() -> None:
    (sub,) = load_subscriptions(
        [_sub(format=".PDF", where={"lane": "ATL->MIA", "carrier": ["ACME", "REDLINE"]})], FORMATS
    )
    assert sub.format == "pdf"
    assert sub.to == ("ops@example.com",)
    assert sub.where == {"lane": ["ATL→MIA"], "carrier": ["ACME", "REDLINE"]}
    assert sub.period == timedelta(days=7)
    assert sub.cadence.kind == "daily" and sub.cadence.times == (time(7, 0),)
    assert sub.cadence.tz.key == "UTC" and sub.cadence.days == ()
    assert sub.start is None and sub.max_catch_up == DEFAULT_MAX_CATCH_UP


def test_weekly_monthly_lists_and_start() -> None:
    weekly, monthly = load_subscriptions(
        [
            _sub(
                name="w",
                cadence="weekly",
                on=["Thursday", "mon", "mon"],
                at=["15:30", "07:00"],
                timezone="Europe/Berlin",
                period="2w",
                start="2026-03-02",
            ),
            _sub(
                name="m",
                cadence="monthly",
                on=31,
                start=datetime(2026, 1, 1, 6, tzinfo=UTC),
                max_catch_up=2,
                to=["A <a@example.com>", "b@example.com"],
            ),
        ],
        FORMATS,
    )
    assert weekly.cadence.days == (0, 3) and weekly.cadence.times == (time(7), time(15, 30))
    assert weekly.period == timedelta(weeks=2)
    # a bare date is midnight in the subscription's own time zone
    assert weekly.start == datetime(2026, 3, 1, 23, tzinfo=UTC)
    assert weekly.cadence.describe() == "weekly mon,thu 07:00,15:30 Europe/Berlin"
    assert monthly.cadence.days == (31,) and monthly.max_catch_up == 2
    assert monthly.start == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert monthly.envelope_recipients() == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"cadence": "hourly"}, "subscriptions[0].cadence: must be one of daily, weekly, monthly"),
        ({"cadence": None}, "subscriptions[0].cadence: required"),
        ({"name": None}, "subscriptions[0].name: required"),
        ({"name": "ops daily"}, "subscriptions[0].name: must be 1-64 letters"),
        ({"to": None}, "subscriptions[0].to: required"),
        ({"to": []}, "subscriptions[0].to: must be an address or a non-empty list"),
        ({"to": ["ops@example.com", "nope"]}, "subscriptions[0].to[1]: not an e-mail address"),
        ({"to": "a@example.com, b@example.com"}, "subscriptions[0].to: one address per entry"),
        ({"to": "ops@example.com\nBcc: x@evil.example"}, "subscriptions[0].to: must be one"),
        ({"format": "docx"}, "subscriptions[0].format: must be one of pdf, xlsx"),
        ({"format": None}, "subscriptions[0].format: required"),
        ({"where": {"planet": "mars"}}, "subscriptions[0].where.planet: unknown dimension"),
        ({"where": {"site": []}}, "subscriptions[0].where.site: must be a string or a non-empty"),
        ({"where": "site=DC-ATL"}, "subscriptions[0].where: must be a table"),
        ({"period": "7 days"}, "subscriptions[0].period: must be a duration like '7d'"),
        ({"period": 7}, "subscriptions[0].period: must be a duration"),
        ({"at": "7am"}, "subscriptions[0].at: must be a time of day HH:MM"),
        ({"at": ["07:00", "24:00"]}, "subscriptions[0].at[1]: must be a time of day"),
        ({"timezone": "Mars/Olympus"}, "subscriptions[0].timezone: unknown time zone"),
        ({"timezone": "../etc/passwd"}, "subscriptions[0].timezone: unknown time zone"),
        ({"on": "mon"}, "subscriptions[0].on: a daily cadence has no 'on'"),
        ({"cadence": "weekly"}, "subscriptions[0].on: required for a weekly cadence"),
        ({"cadence": "weekly", "on": "funday"}, "subscriptions[0].on: must be a weekday"),
        ({"cadence": "monthly", "on": 0}, "subscriptions[0].on: must be a day of the month 1-31"),
        ({"cadence": "monthly", "on": "1"}, "subscriptions[0].on: must be a day of the month"),
        ({"start": "yesterday"}, "subscriptions[0].start: not an RFC 3339 time"),
        ({"start": datetime(2026, 1, 1)}, "subscriptions[0].start: needs a UTC offset"),  # noqa: DTZ001
        ({"max_catch_up": 0}, "subscriptions[0].max_catch_up: must be a whole number"),
        ({"max_catch_up": True}, "subscriptions[0].max_catch_up: must be a whole number"),
        ({"cadense": "daily"}, "subscriptions[0].cadense: unknown key; use one of name, to"),
    ],
)
def test_bad_subscription_is_one_line_naming_the_key(raw: dict[str, Any], expected: str) -> None:
    # a key given as None is left out of the subscription (a missing key)
    assert _error([_sub(**raw)]).startswith(f"bad configuration at {expected}")


def test_second_subscription_is_named_by_index_and_names_are_unique() -> None:
    ok = _sub(name="a")
    assert _error([ok, _sub(name="b", cadence="yearly")]).startswith(
        "bad configuration at subscriptions[1].cadence:"
    )
    assert _error([ok, _sub(name="a")]) == (
        "bad configuration at subscriptions[1].name: 'a' is already the name of subscriptions[0]"
    )
    assert _error(["daily"]).startswith("bad configuration at subscriptions[0]: must be a table")


def test_smtp_defaults_overrides_and_password_from_environment() -> None:
    cfg = load_smtp({"host": "mail.example.com", "from": "fpi@example.com"}, {})
    assert (cfg.host, cfg.port, cfg.security, cfg.timeout) == (
        "mail.example.com",
        587,
        "starttls",
        30,
    )
    assert cfg.username is None and cfg.password is None and cfg.domain == "example.com"
    cfg = load_smtp(
        {
            "host": "mail.example.com",
            "security": "tls",
            "from": "Reports <fpi@example.com>",
            "username": "fpi",
            "password_env": "FPI_SMTP_PASSWORD",
        },
        {"FPI_SMTP_PASSWORD": "s3cret"},
        host="relay.internal",
        port=2465,
    )
    assert (cfg.host, cfg.port, cfg.password) == ("relay.internal", 2465, "s3cret")
    assert cfg.envelope_sender == "fpi@example.com"
    assert load_smtp({"host": "h", "from": "a@b.example", "security": "none"}, {}).port == 25
    assert load_smtp({"host": "h", "from": "a@b.example", "security": "tls"}, {}).port == 465


@pytest.mark.parametrize(
    ("raw", "environ", "expected"),
    [
        (None, {}, "smtp.host: required"),
        ({"host": "h"}, {}, "smtp.from: required"),
        ({"host": "h", "from": "nobody"}, {}, "smtp.from: not an e-mail address"),
        ({"host": "h", "from": "a@b.example", "port": 0}, {}, "smtp.port: must be a port number"),
        ({"host": "h", "from": "a@b.example", "port": "25"}, {}, "smtp.port: must be a port"),
        ({"host": "h", "from": "a@b.example", "security": "ssl"}, {}, "smtp.security: must be"),
        ({"host": "h", "from": "a@b.example", "timeout": 0}, {}, "smtp.timeout: must be"),
        ({"host": "h", "from": "a@b.example", "user": "x"}, {}, "smtp.user: unknown key"),
        ({"host": "a b", "from": "a@b.example"}, {}, "smtp.host: must be a host name"),
        (
            {"host": "h", "from": "a@b.example", "username": "u"},
            {},
            "smtp.password_env: required with username",
        ),
        (
            {"host": "h", "from": "a@b.example", "username": "u", "password_env": "PW"},
            {},
            "smtp.password_env: environment variable PW is not set",
        ),
        (
            {"host": "h", "from": "a@b.example", "password_env": "PW"},
            {"PW": "x"},
            "smtp.password_env: needs smtp.username",
        ),
        (
            {
                "host": "mail.example.com",
                "from": "a@b.example",
                "security": "none",
                "username": "u",
                "password_env": "PW",
            },
            {"PW": "x"},
            "smtp.username: logging in without TLS would send the password in clear text",
        ),
    ],
)
def test_bad_smtp_is_one_line_naming_the_key(
    raw: dict[str, Any] | None, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ValueError) as info:
        load_smtp(raw, environ)
    assert str(info.value).startswith(f"bad configuration at {expected}")
    assert "\n" not in str(info.value)


def test_login_without_tls_is_allowed_to_loopback_only() -> None:
    raw = {
        "host": "127.0.0.1",
        "from": "a@b.example",
        "security": "none",
        "username": "u",
        "password_env": "PW",
    }
    assert load_smtp(raw, {"PW": "pw"}).password == "pw"
