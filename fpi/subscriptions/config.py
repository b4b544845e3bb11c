"""Report subscriptions and the SMTP server, validated from the raw settings.

``core.config.Settings.subscriptions`` holds the ``[[subscriptions]]`` array of
tables of the settings file as given, ``Settings.smtp`` its ``[smtp]`` table;
:func:`load_subscriptions` and :func:`load_smtp` check them here. Every problem
is a ``ValueError`` with one line naming the key, worded as
``core.config.load_settings`` words its own errors::

    bad configuration at subscriptions[1].cadence: must be one of daily, weekly, monthly, got 'x'

``subscriptions[i]`` counts from 0, in the order of the file. The keys and
their meaning are documented in the package docstring (``fpi.subscriptions``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.timeutil import TIME_MAX, TIME_MIN, parse_time
from metrics.dimensions import dimension, normalize_value

CadenceKind = Literal["daily", "weekly", "monthly"]
CADENCES: tuple[CadenceKind, ...] = ("daily", "weekly", "monthly")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
Security = Literal["starttls", "tls", "none"]
SECURITIES: tuple[Security, ...] = ("starttls", "tls", "none")
DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "tls": 465, "none": 25}
LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})

DEFAULT_AT = "07:00"
DEFAULT_PERIOD = "7d"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_MAX_CATCH_UP = 31
DEFAULT_SMTP_TIMEOUT = 30.0

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""A subscription name: it appears in attachment file names and the state file."""
_AT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PERIOD = re.compile(r"^([1-9]\d{0,4})([hdw])$")
_PERIOD_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SUBSCRIPTION_KEYS: tuple[str, ...] = (
    "name",
    "to",
    "format",
    "where",
    "period",
    "cadence",
    "at",
    "on",
    "timezone",
    "start",
    "max_catch_up",
)
SMTP_KEYS: tuple[str, ...] = (
    "host",
    "port",
    "from",
    "security",
    "username",
    "password_env",
    "timeout",
)


class ConfigError(ValueError):
    """A configuration problem at ``where`` (one line)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"bad configuration at {where}: {what}")


@dataclass(frozen=True, slots=True)
class Cadence:
    """When a subscription's slots fall, in local wall time of ``tz``.

    ``days`` is empty for ``daily``, weekday numbers (0 = Monday) for
    ``weekly`` and days of the month (1-31; a day past the month's end means
    its last day) for ``monthly``. ``times`` are the wall-clock times of day,
    ascending.
    """

    kind: CadenceKind
    times: tuple[time, ...]
    days: tuple[int, ...]
    tz: ZoneInfo

    def describe(self) -> str:
        """E.g. ``weekly mon,thu 07:00 America/New_York``."""
        at = ",".join(t.strftime("%H:%M") for t in self.times)
        if self.kind == "weekly":
            on = ",".join(WEEKDAYS[d] for d in self.days) + " "
        elif self.kind == "monthly":
            on = "day " + ",".join(str(d) for d in self.days) + " "
        else:
            on = ""
        return f"{self.kind} {on}{at} {self.tz.key}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """One validated ``[[subscriptions]]`` entry."""

    name: str
    to: tuple[str, ...]
    """Recipients as written (``ops@example.com`` or ``Ops <ops@example.com>``)."""
    format: str
    """The report's file ending without the dot (``pdf``, ``md`` ...)."""
    where: dict[str, list[str]]
    """Filters: dimension -> values (different dimensions AND, values of one OR)."""
    period: timedelta
    """The flow KPIs' window: [slot - period, slot)."""
    cadence: Cadence
    start: datetime | None
    """No slot before this instant is ever sent (None: from when first seen)."""
    max_catch_up: int
    """At most this many missed slots are sent by one run; older ones are skipped."""

    def envelope_recipients(self) -> list[str]:
        """The bare addresses (``ops@example.com``) for the SMTP envelope."""
        return [parseaddr(a)[1] for a in self.to]


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """The validated ``[smtp]`` table (with ``--smtp-host``/``--smtp-port`` applied)."""

    host: str
    port: int
    sender: str
    """The ``from`` address as written (the From header)."""
    security: Security
    username: str | None
    password: str | None
    """Read from the environment variable named by ``password_env``."""
    timeout: float

    @property
    def envelope_sender(self) -> str:
        """The bare sender address for ``MAIL FROM``."""
        return parseaddr(self.sender)[1]

    @property
    def domain(self) -> str:
        """The sender's domain (the right part of every Message-ID)."""
        return self.envelope_sender.rpartition("@")[2]


def _address(where: str, raw: Any) -> str:
    """One e-mail address, optionally with a display name (``Ops <ops@example.com>``),
    on one line; returned as written (stripped)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(where, f"must be an e-mail address, got {raw!r}")
    text = raw.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(where, f"must be one e-mail address on one line, got {raw!r}")
    bad = ConfigError(where, f"not an e-mail address: {raw!r} (example: ops@example.com)")
    pairs = getaddresses([text])
    if len(pairs) != 1:
        raise ConfigError(where, f"one address per entry (use a list for more), got {raw!r}")
    addr = pairs[0][1]
    if not addr or (text != addr and not text.endswith(f"<{addr}>")):
        raise bad
    try:
        parsed = Address(addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError):
        raise bad from None
    if not parsed.username or not parsed.domain:
        raise bad
    return text


def _string(where: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(where, f"must be a non-empty string, got {raw!r}")
    return raw.strip()


def _str_list(where: str, raw: Any) -> list[str]:
    """A string or a non-empty list of strings."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise ConfigError(where, f"must be a string or a non-empty list of strings, got {raw!r}")
    return [_string(f"{where}[{i}]", v) for i, v in enumerate(items)]


def _unknown_keys(where: str, raw: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key; use one of {', '.join(known)}")


def _times(where: str, raw: Any) -> tuple[time, ...]:
    out = set()
    for i, text in enumerate(_str_list(where, raw)):
        m = _AT.match(text)
        if m is None:
            at = where if isinstance(raw, str) else f"{where}[{i}]"
            raise ConfigError(at, f"must be a time of day HH:MM (24 h, e.g. '07:00'), got {text!r}")
        out.add(time(int(m.group(1)), int(m.group(2))))
    return tuple(sorted(out))


def _weekdays(where: str, raw: Any) -> tuple[int, ...]:
    out = set()
    for text in _str_list(where, raw):
        key = text.lower()
        if key in WEEKDAYS:
            out.add(WEEKDAYS.index(key))
        elif key in _FULL_WEEKDAYS:
            out.add(_FULL_WEEKDAYS.index(key))
        else:
            raise ConfigError(
                where, f"must be a weekday ({', '.join(WEEKDAYS)}) or a list of them, got {text!r}"
            )
    return tuple(sorted(out))


def _month_days(where: str, raw: Any) -> tuple[int, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError(where, "must be a day of the month 1-31 or a non-empty list of them")
    out = set()
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 31:
            raise ConfigError(
                where, f"must be a day of the month 1-31 (31: the last day), got {v!r}"
            )
        out.add(v)
    return tuple(sorted(out))


def _timezone(where: str, raw: Any) -> ZoneInfo:
    key = _string(where, raw)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            where, f"unknown time zone {key!r} (an IANA name such as 'America/New_York' or 'UTC')"
        ) from None


def _cadence(where: str, raw: Mapping[str, Any]) -> Cadence:
    kind = raw.get("cadence")
    if kind is None:
        raise ConfigError(f"{where}.cadence", f"required: one of {', '.join(CADENCES)}")
    if kind not in CADENCES:
        raise ConfigError(f"{where}.cadence", f"must be one of {', '.join(CADENCES)}, got {kind!r}")
    tz = _timezone(f"{where}.timezone", raw.get("timezone", DEFAULT_TIMEZONE))
    times = _times(f"{where}.at", raw.get("at", DEFAULT_AT))
    on = raw.get("on")
    days: tuple[int, ...] = ()
    if kind == "daily":
        if on is not None:
            raise ConfigError(
                f"{where}.on", "a daily cadence has no 'on' (use cadence = 'weekly' or 'monthly')"
            )
    elif on is None:
        example = "'mon'" if kind == "weekly" else "1"
        raise ConfigError(f"{where}.on", f"required for a {kind} cadence (e.g. on = {example})")
    elif kind == "weekly":
        days = _weekdays(f"{where}.on", on)
    else:
        days = _month_days(f"{where}.on", on)
    return Cadence(kind=kind, times=times, days=days, tz=tz)


def _period(where: str, raw: Any) -> timedelta:
    m = _PERIOD.match(raw) if isinstance(raw, str) else None
    if m is None:
        raise ConfigError(where, f"must be a duration like '7d', '24h' or '2w', got {raw!r}")
    return int(m.group(1)) * _PERIOD_UNITS[m.group(2)]


def _where(where: str, raw: Any) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise ConfigError(where, f"must be a table of dimension = value(s), got {raw!r}")
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        try:
            dim = dimension(str(key)).name
        except ValueError as exc:
            raise ConfigError(f"{where}.{key}", str(exc)) from None
        out[dim] = [normalize_value(dim, v) for v in _str_list(f"{where}.{key}", values)]
    return out


def _start(where: str, raw: Any, tz: ZoneInfo) -> datetime:
    """An instant; a bare date is midnight of that day in the subscription's zone."""
    if isinstance(raw, datetime):
        if raw.tzinfo is None or raw.utcoffset() is None:
            raise ConfigError(where, f"needs a UTC offset (add Z or +hh:mm), got {raw.isoformat()}")
        dt = raw.astimezone(UTC)
    elif isinstance(raw, date):
        dt = datetime.combine(raw, time(0), tzinfo=tz).astimezone(UTC)
    elif isinstance(raw, str) and _DATE_ONLY.match(raw.strip()):
        try:
            day = date.fromisoformat(raw.strip())
        except ValueError:
            raise ConfigError(where, f"not a date: {raw!r}") from None
        dt = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    elif isinstance(raw, str):
        try:
            dt = parse_time(raw)
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
    else:
        raise ConfigError(where, f"must be an RFC 3339 time or a date, got {raw!r}")
    if not TIME_MIN <= dt < TIME_MAX:
        raise ConfigError(where, f"must be between 1970 and 2200, got {raw!r}")
    return dt


def _positive_int(where: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ConfigError(where, f"must be a whole number of at least 1, got {raw!r}")
    return raw


def _subscription(where: str, raw: Any, formats: tuple[str, ...]) -> Subscription:
    if not isinstance(raw, dict):
        raise ConfigError(where, f"must be a table ([[subscriptions]]), got {raw!r}")
    _unknown_keys(where, raw, SUBSCRIPTION_KEYS)
    if "name" not in raw:
        raise ConfigError(f"{where}.name", "required (a unique name, e.g. 'ops-daily')")
    name = raw["name"]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{where}.name",
            f"must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"got {name!r}",
        )
    if "to" not in raw:
        raise ConfigError(f"{where}.to", "required (a recipient address or a list of them)")
    to_raw = raw["to"]
    items = [to_raw] if isinstance(to_raw, str) else to_raw
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}.to", f"must be an address or a non-empty list, got {to_raw!r}")
    to = tuple(
        _address(f"{where}.to" if isinstance(to_raw, str) else f"{where}.to[{i}]", a)
        for i, a in enumerate(items)
    )
    if "format" not in raw:
        raise ConfigError(f"{where}.format", f"required: one of {', '.join(formats)}")
    fmt = raw["format"]
    fmt_key = fmt.strip().lower().lstrip(".") if isinstance(fmt, str) else None
    if fmt_key not in formats:
        raise ConfigError(f"{where}.format", f"must be one of {', '.join(formats)}, got {fmt!r}")
    assert fmt_key is not None
    cadence = _cadence(where, raw)
    start = _start(f"{where}.start", raw["start"], cadence.tz) if "start" in raw else None
    return Subscription(
        name=name,
        to=to,
        format=fmt_key,
        where=_where(f"{where}.where", raw.get("where", {})),
        period=_period(f"{where}.period", raw.get("period", DEFAULT_PERIOD)),
        cadence=cadence,
        start=start,
        max_catch_up=_positive_int(
            f"{where}.max_catch_up", raw.get("max_catch_up", DEFAULT_MAX_CATCH_UP)
        ),
    )


def load_subscriptions(raw: Any, formats: tuple[str, ...]) -> tuple[Subscription, ...]:
    """Validate ``Settings.subscriptions`` (the ``[[subscriptions]]`` tables).

    ``formats`` are the report formats a subscription may ask for (the file
    endings ``fpi report`` writes, without the dot). Names must be unique.
    """
    if not isinstance(raw, list):
        raise ConfigError("subscriptions", "must be an array of tables ([[subscriptions]])")
    subs: list[Subscription] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        sub = _subscription(f"subscriptions[{i}]", item, formats)
        if sub.name in seen:
            raise ConfigError(
                f"subscriptions[{i}].name",
                f"{sub.name!r} is already the name of subscriptions[{seen[sub.name]}]",
            )
        seen[sub.name] = i
        subs.append(sub)
    return tuple(subs)


def load_smtp(
    raw: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    *,
    host: str | None = None,
    port: int | None = None,
) -> SmtpConfig:
    """Validate the ``[smtp]`` table; ``host``/``port`` (the command line) win over it.

    The password is never in the file: ``password_env`` names the environment
    variable that holds it, read from ``environ``. Logging in without TLS is
    refused except to a loopback host.
    """
    table: Mapping[str, Any] = raw or {}
    if not isinstance(table, Mapping):
        raise ConfigError("smtp", "must be a table ([smtp])")
    _unknown_keys("smtp", table, SMTP_KEYS)
    host_raw = host if host is not None else table.get("host")
    if host_raw is None:
        raise ConfigError("smtp.host", "required: the SMTP server that sends the reports")
    host_text = _string("smtp.host", host_raw)
    if any(c.isspace() for c in host_text):
        raise ConfigError("smtp.host", f"must be a host name or address, got {host_raw!r}")
    security = table.get("security", "starttls")
    if security not in SECURITIES:
        raise ConfigError(
            "smtp.security", f"must be one of {', '.join(SECURITIES)}, got {security!r}"
        )
    port_raw = port if port is not None else table.get("port", DEFAULT_PORTS[security])
    if isinstance(port_raw, bool) or not isinstance(port_raw, int) or not 1 <= port_raw <= 65535:
        raise ConfigError("smtp.port", f"must be a port number 1-65535, got {port_raw!r}")
    if "from" not in table:
        raise ConfigError("smtp.from", "required: the sender address of the report mails")
    sender = _address("smtp.from", table["from"])
    timeout = table.get("timeout", DEFAULT_SMTP_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < math.inf
    ):
        raise ConfigError("smtp.timeout", f"must be a positive number of seconds, got {timeout!r}")
    username = table.get("username")
    password: str | None = None
    if username is not None:
        username = _string("smtp.username", username)
        if security == "none" and host_text.lower() not in LOOPBACK_HOSTS:
            raise ConfigError(
                "smtp.username",
                "logging in without TLS would send the password in clear text; "
                "set security = 'starttls' or 'tls'",
            )
        if "password_env" not in table:
            raise ConfigError(
                "smtp.password_env",
                "required with username: the environment variable that holds the password",
            )
        env = _string("smtp.password_env", table["password_env"])
        if env not in environ:
            raise ConfigError("smtp.password_env", f"environment variable {env} is not set")
        password = environ[env]
    elif "password_env" in table:
        raise ConfigError("smtp.password_env", "needs smtp.username (the login name)")
    return SmtpConfig(
        host=host_text,
        port=port_raw,
        sender=sender,
        security=security,
        username=username,
        password=password,
        timeout=float(timeout),
    )
