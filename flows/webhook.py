"""Webhook delivery of SLA alert messages: a background thread that POSTs the
rows of ``alert_outbox`` to one URL, at least once, in order.

The live flow writes every alert message (``interface.md``: one JSON object,
``action`` = ``raised`` | ``retracted``) into ``alert_outbox`` in the same
transaction that raised or retracted the alert. :class:`AlertDelivery` reads
the rows not yet delivered (``delivered_at IS NULL``) on its own cursor of the
flow's connection and sends them one by one, oldest first: by ``happened_at``,
then ``raised`` before ``retracted`` of the same alert, then ``alert_id``. A
message is sent only after every message before it was accepted.

**The request.** ``POST <url>`` with the row's ``payload`` as the body, byte
for byte (UTF-8 JSON), and the headers

* ``Content-Type: application/json``
* ``X-FPI-Alert-Id: <alert_id>`` and ``X-FPI-Action: raised|retracted`` (the
  body holds both too, and is authoritative; a character outside printable
  ASCII, or ``%``, is percent-encoded in the header)
* with a secret: ``X-FPI-Timestamp: <unix seconds>`` and
  ``X-FPI-Signature: sha256=<hex>``, where ``<hex>`` is the lowercase hex
  HMAC-SHA256, keyed with the secret (UTF-8), of the bytes
  ``<timestamp> + "." + <body>``. A receiver verifies it like this::

      ts = request.headers["X-FPI-Timestamp"]
      mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256)
      ok = hmac.compare_digest("sha256=" + mac.hexdigest(),
                               request.headers["X-FPI-Signature"])
      fresh = abs(time.time() - int(ts)) < 300      # refuse old replays

  Without a secret neither header is sent. The timestamp is the time of the
  attempt (each retry is signed anew), so a receiver may refuse stale ones.

Timeouts are ``timeout_seconds`` (5 s) per connect / read; ``https://`` URLs
verify the certificate; the usual ``https_proxy`` / ``no_proxy`` environment
variables apply (urllib).

**Accepted = any 2xx.** The row then gets ``delivered_at`` (the injected clock)
and ``attempts`` (the POSTs made for it, over all runs, the accepted one
included; ``last_error`` keeps the latest failure, if any). Anything else — a
connection error, a timeout, a 3xx (redirects are not followed: urllib would
resend a redirected POST as a GET), a 4xx or a 5xx — is a failed attempt: the
row gets ``attempts`` and ``last_error`` (one line), and the endpoint is
retried after an exponential backoff (by default 0.5 s doubling to 60 s, minus
up to 10 % jitter). The backoff is per endpoint: one failing message pauses the
whole queue, so the order holds and a down endpoint gets one request per
backoff step, not one per message. A 4xx other than 408/429 is retried the same
way, never dropped: our payloads are always well-formed, so a 4xx means the
receiver is misconfigured (wrong path, key or auth), and once it is fixed
everything waiting is delivered. Nothing is lost.

**At least once.** A message whose 2xx answer was lost, or whose
``delivered_at`` could not be written before the process ended, is sent again
(by this run or the next). Delivering one message twice is harmless:
receivers dedupe by ``alert_id`` + ``action`` (an ``alert_id`` is never reused,
``kpis.md``).

**It never blocks or crashes the flow.** Every error is caught and reported as
one line on stderr, once per change of state (``webhook ... unreachable: ...
(N messages waiting)``, ``webhook ... delivering again``) and at most every
``remind_seconds`` while it lasts. The thread polls the outbox every
``poll_seconds`` and :meth:`AlertDelivery.notify` wakes it at once (call it
after a commit that wrote outbox rows). :meth:`AlertDelivery.stop` ends it
promptly, also in the middle of a backoff (a request in flight finishes or
times out first); what is undelivered stays in the table and a new
:class:`AlertDelivery` on the same database — the next run — delivers it.

**DuckDB.** The writer keeps committing on the same database; this thread
only touches ``alert_outbox``, with one single-row ``UPDATE`` (its own
auto-committed transaction) per attempt. If DuckDB refuses one (a transaction
conflict, a closed connection), the change is kept in memory and tried again
later; a delivered row whose mark could not be written is not sent again by
this run. Timestamps are written but never read back (no ``pytz`` needed).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from core import schema
from core.db import cursor
from core.timeutil import Clock

OUTBOX = schema.ALERT_OUTBOX.name

_ORDER = "happened_at, CASE action WHEN 'raised' THEN 0 ELSE 1 END, alert_id"
_SELECT = (
    f"SELECT alert_id, action, payload, coalesce(attempts, 0) FROM {OUTBOX} "  # noqa: S608
    f"WHERE delivered_at IS NULL ORDER BY {_ORDER} LIMIT ?"
)
_COUNT = f"SELECT count(*) FROM {OUTBOX} WHERE delivered_at IS NULL"  # noqa: S608
_MARK_DELIVERED = (
    f"UPDATE {OUTBOX} SET delivered_at = ?, attempts = greatest(coalesce(attempts, 0), ?) "  # noqa: S608
    "WHERE alert_id = ? AND action = ? AND delivered_at IS NULL"
)
_MARK_FAILED = (
    f"UPDATE {OUTBOX} SET attempts = greatest(coalesce(attempts, 0), ?), last_error = ? "  # noqa: S608
    "WHERE alert_id = ? AND action = ? AND delivered_at IS NULL"
)

_ERROR_CHARS = 300
"""Longest ``last_error`` / log detail kept (one line)."""
_BODY_SNIPPET = 200
"""How much of an error response's body goes into ``last_error``."""
_HEADER_SAFE = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")
USER_AGENT = "fpi-alert-delivery/1"

Key = tuple[str, str]
"""``(alert_id, action)``: the primary key of an outbox row."""


@dataclass(frozen=True)
class DeliveryStatus:
    """A snapshot for progress lines."""

    waiting: int
    """Messages not yet delivered, as of the last look at the outbox."""
    delivered: int
    """Messages delivered by this :class:`AlertDelivery` (this run)."""
    last_error: str | None
    """The latest failure (one line), or None if there was none."""
    failing: bool
    """True while the endpoint is failing (backing off)."""

    def line(self) -> str:
        """E.g. ``alerts: 2 waiting, 40 delivered, webhook failing: HTTP 503``."""
        text = f"alerts: {self.waiting} waiting, {self.delivered} delivered"
        if self.failing and self.last_error:
            text += f", webhook failing: {self.last_error}"
        return text


def one_line(text: str, limit: int = _ERROR_CHARS) -> str:
    """``text`` with whitespace runs folded to one space, cut to ``limit`` chars."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of timestamp + "." + body>`` (the signature header)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def header_value(text: str) -> str:
    """``text`` safe as an HTTP header value (percent-encoding what is not)."""
    return urllib.parse.quote(text, safe=_HEADER_SAFE)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are failures: urllib would resend a redirected POST as a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _stderr(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except Exception:  # a closed stderr must not stop delivery
        pass


class AlertDelivery:
    """Delivers ``alert_outbox`` rows to ``url`` on a background thread.

    ``con`` is the flow's connection; the thread works on ``con.cursor()``,
    taken here, in the caller's thread. ``clock`` gives aware UTC "now"
    (``delivered_at`` and the signature timestamp); ``rand`` gives floats in
    [0, 1) for the jitter; ``log`` receives each one-line report (default:
    stderr). Call :meth:`start`, then :meth:`notify` after commits, and
    :meth:`stop` at the end (or use it as a context manager).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        url: str,
        *,
        clock: Clock,
        secret: str | bytes | None = None,
        timeout_seconds: float = 5.0,
        poll_seconds: float = 0.2,
        backoff_initial_seconds: float = 0.5,
        backoff_max_seconds: float = 60.0,
        jitter: float = 0.1,
        rand: Callable[[], float] = random.random,
        batch_size: int = 100,
        remind_seconds: float = 300.0,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"webhook URL must be http:// or https:// with a host, not {url!r}")
        if secret is not None and not secret:
            raise ValueError("webhook secret must not be empty (pass None for no signature)")
        if not (0 < backoff_initial_seconds <= backoff_max_seconds):
            raise ValueError("need 0 < backoff_initial_seconds <= backoff_max_seconds")
        if batch_size < 1 or timeout_seconds <= 0 or poll_seconds <= 0 or not 0 <= jitter < 1:
            raise ValueError("batch_size, timeout_seconds and poll_seconds must be positive")
        self._url = url
        # Where, for log lines: scheme://host[:port]/path, no credentials or query.
        port = f":{parts.port}" if parts.port else ""
        self.endpoint = f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._clock = clock
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._backoff_initial = backoff_initial_seconds
        self._backoff_max = backoff_max_seconds
        self._jitter = jitter
        self._rand = rand
        self._batch = batch_size
        self._remind = remind_seconds
        self._log = log
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._cur = cursor(con)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # State owned by the delivery thread (read under _lock by status()).
        self._waiting = 0
        self._delivered = 0
        self._last_error: str | None = None
        self._failures = 0  # consecutive failed attempts at the endpoint
        self._db_failures = 0  # consecutive failed outbox reads/writes
        self._last_report: datetime | None = None
        self._db_last_report: datetime | None = None
        self._attempts: dict[Key, int] = {}  # attempts made, in case a write was lost
        self._unmarked: dict[Key, tuple[datetime, int]] = {}  # delivered, mark not written

    # -- the caller's side -------------------------------------------------

    def start(self) -> AlertDelivery:
        """Start the delivery thread (once)."""
        if self._thread is not None or self._stop.is_set():
            raise RuntimeError("an AlertDelivery starts once (make a new one to start again)")
        self._thread = threading.Thread(target=self._run, name="fpi-alert-delivery", daemon=True)
        self._thread.start()
        return self

    def notify(self) -> None:
        """Look at the outbox now (call after a commit that wrote alert messages)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread, waiting at most ``timeout`` s; True if it has ended.

        A backoff is cut short; a request in flight finishes (or times out)
        first. Undelivered rows stay in the outbox for the next run.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            self._close()
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> DeliveryStatus:
        """Waiting and delivered counts, and the last error, for progress lines."""
        with self._lock:
            return DeliveryStatus(
                waiting=self._waiting,
                delivered=self._delivered,
                last_error=self._last_error,
                failing=self._failures > 0,
            )

    def __enter__(self) -> AlertDelivery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the delivery thread -----------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    delay = self._step()
                except Exception as exc:  # never let the thread die
                    delay = self._db_trouble(exc)
                if delay is None:
                    self._wake.wait(self._poll)
                elif delay > 0:
                    self._stop.wait(delay)  # a backoff: notify() does not cut it short
        finally:
            try:
                self._flush_marks()
            except Exception:  # they are re-sent next run (harmless)
                pass
            self._close()

    def _close(self) -> None:
        try:
            self._cur.close()
        except Exception:  # closing is best effort
            pass

    def _step(self) -> float | None:
        """One pass: None when the outbox is drained, else the seconds to wait."""
        self._flush_marks()
        rows: list[tuple[str, str, str, int]] = self._cur.execute(_SELECT, [self._batch]).fetchall()
        todo = [r for r in rows if (r[0], r[1]) not in self._unmarked]
        if len(rows) < self._batch:
            waiting = len(todo)
        else:
            (count,) = self._cur.execute(_COUNT).fetchone() or (0,)
            waiting = max(len(todo), int(count) - len(self._unmarked))
        self._set(waiting=waiting)
        self._db_recovered()
        for alert_id, action, payload, stored_attempts in todo:
            if self._stop.is_set():
                return 0.0
            key = (alert_id, action)
            attempts = max(stored_attempts, self._attempts.get(key, 0)) + 1
            self._attempts[key] = attempts
            error = self._post(alert_id, action, payload)
            if error is not None:
                self._failed(key, attempts, error)
                return self._backoff()
            self._succeeded(key, attempts)
        return 0.0 if len(rows) == self._batch else None

    def _post(self, alert_id: str, action: str, payload: str) -> str | None:
        """Send one message: None if accepted (2xx), else the error (one line)."""
        body = payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-FPI-Alert-Id": header_value(alert_id),
            "X-FPI-Action": header_value(action),
        }
        if self._secret is not None:
            timestamp = str(int(self._clock().timestamp()))
            headers["X-FPI-Timestamp"] = timestamp
            headers["X-FPI-Signature"] = signature(self._secret, timestamp, body)
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                code = int(response.status)
                response.read(_BODY_SNIPPET)
        except urllib.error.HTTPError as exc:
            return self._http_error(exc)
        except urllib.error.URLError as exc:
            return one_line(_describe(exc.reason))
        except Exception as exc:  # timeouts, resets, bad status lines, ...
            return one_line(_describe(exc))
        if 200 <= code < 300:
            return None
        return f"HTTP {code}"

    @staticmethod
    def _http_error(exc: urllib.error.HTTPError) -> str:
        text = f"HTTP {exc.code} {exc.reason}"
        try:
            snippet = exc.read(_BODY_SNIPPET).decode("utf-8", "replace")
        except Exception:
            snippet = ""
        finally:
            exc.close()
        if snippet.strip():
            text += f": {snippet}"
        return one_line(text)

    def _succeeded(self, key: Key, attempts: int) -> None:
        now = self._clock()
        self._attempts.pop(key, None)
        with self._lock:
            self._delivered += 1
            self._waiting = max(0, self._waiting - 1)
            was_failing = self._failures > 0
            self._failures = 0
            waiting = self._waiting
        if was_failing:
            self._report(f"webhook {self.endpoint} delivering again ({waiting} messages waiting)")
            self._last_report = None
        try:
            self._cur.execute(_MARK_DELIVERED, [now, attempts, key[0], key[1]])
        except Exception as exc:
            self._unmarked[key] = (now, attempts)
            self._db_trouble(exc)

    def _failed(self, key: Key, attempts: int, error: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = error
            failures = self._failures
            waiting = self._waiting
        now = self._clock()
        if failures == 1:
            self._report(
                f"webhook {self.endpoint} unreachable: {error} ({waiting} messages waiting)"
            )
            self._last_report = now
        elif self._last_report is None or (now - self._last_report).total_seconds() >= (
            self._remind
        ):
            self._report(
                f"webhook {self.endpoint} still unreachable: {error} "
                f"({waiting} messages waiting, {failures} attempts)"
            )
            self._last_report = now
        try:
            self._cur.execute(_MARK_FAILED, [attempts, error, key[0], key[1]])
        except Exception as exc:
            self._db_trouble(exc)

    def _backoff(self) -> float:
        """Seconds before the next attempt: doubling from the initial, capped, jittered."""
        step = min(self._failures - 1, 60)
        base = min(self._backoff_max, self._backoff_initial * 2.0**step)
        return base * (1.0 - self._jitter * self._rand())

    def _flush_marks(self) -> None:
        """Write the ``delivered_at`` marks an earlier write failed to record."""
        for key, (at, attempts) in list(self._unmarked.items()):
            self._cur.execute(_MARK_DELIVERED, [at, attempts, key[0], key[1]])
            del self._unmarked[key]

    def _db_trouble(self, exc: BaseException) -> float:
        """Report an outbox read/write failure (rate-limited); the seconds to wait."""
        self._db_failures += 1
        now = self._clock()
        last = self._db_last_report
        if last is None or (now - last).total_seconds() >= self._remind:
            kind = "failing" if isinstance(exc, duckdb.Error) else "error"
            self._report(
                f"webhook outbox {kind}: {one_line(_describe(exc))} (will retry, nothing lost)"
            )
            self._db_last_report = now
        step = min(self._db_failures - 1, 60)
        return min(self._backoff_max, self._poll * 2.0**step)

    def _db_recovered(self) -> None:
        if self._db_failures and self._db_last_report is not None:
            self._report("webhook outbox working again")
        self._db_failures = 0
        self._db_last_report = None

    def _set(self, *, waiting: int) -> None:
        with self._lock:
            self._waiting = waiting

    def _report(self, line: str) -> None:
        try:
            self._log(f"fpi: {line}")
        except Exception:  # a broken logger must not stop delivery
            pass


def _describe(exc: object) -> str:
    """A short text for an exception (or a ``URLError`` reason)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, BaseException):
        text = str(exc)
        name = type(exc).__name__
        return f"{name}: {text}" if text else name
    return str(exc)
