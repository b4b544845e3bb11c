"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, an ephemeral port.

It keeps every message it accepted (envelope and the parsed mail), can refuse
given recipients (550) and can hold a message in DATA until released, so a
test can run a second ``send-due`` while the first one is mid-send.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def attachment(self) -> tuple[str, bytes]:
        """The one attachment: (file name, bytes)."""
        parts = list(self.message.iter_attachments())
        assert len(parts) == 1, [p.get_filename() for p in parts]
        data = parts[0].get_content()
        return str(parts[0].get_filename()), data if isinstance(data, bytes) else data.encode()


@dataclass
class Handler:
    """What the server does with a session."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    """Recipients answered with 550."""
    hold: threading.Event | None = None
    """When set (an Event), DATA waits until the Event is set."""
    in_data: threading.Event = field(default_factory=threading.Event)
    """Set when a message reached DATA (before any hold)."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.in_data.set()
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 60)
        raw = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw)))
        return "250 2.0.0 accepted"


class _EphemeralController(Controller):
    """Binds port 0 and learns the port the kernel chose before probing it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Handler

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A running server on 127.0.0.1; stopped (its thread joined) on exit."""
    handler = Handler()
    controller = _EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        if handler.hold is not None:
            handler.hold.set()
        controller.stop()
