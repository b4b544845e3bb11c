"""One event of the world (:class:`WEv`), before it is rendered as a line."""

from __future__ import annotations

from typing import Any, Final

from .timestamps import Zone


class WEv:
    """One event of the world, before rendering."""

    __slots__ = ("actor", "etype", "key", "kid", "payload", "role", "source", "t", "zone")

    def __init__(
        self,
        t: int,
        etype: str,
        source: str,
        key: str,
        kid: str,
        payload: dict[str, Any],
        actor: dict[str, str] | None,
        zone: Zone,
        role: int = 0,
    ) -> None:
        self.t = t
        self.etype = etype
        self.source = source
        self.key = key
        self.kid = kid
        self.payload = payload
        self.actor = actor
        self.zone = zone
        self.role = role
        """0 other, 1 ``exception.opened``, 2 assigned right after opened (drift candidate)."""


ROLE_OPENED: Final = 1
ROLE_DRIFTABLE: Final = 2
