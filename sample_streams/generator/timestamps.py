"""Event time: epoch milliseconds and their RFC 3339 text in a source's zone.

The world works in integer epoch milliseconds; a :data:`Zone` says how a source
writes them (UTC offset, suffix, with or without milliseconds).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

MS_H: Final = 3_600_000
MS_MIN: Final = 60_000
MS_DAY: Final = 86_400_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE: Final = date(1970, 1, 1)
NEVER: Final = 1 << 62
"""A time after every horizon: the milestone does not happen."""

Zone = tuple[int, str, bool]
"""How a source writes timestamps: (UTC offset in minutes, suffix, with milliseconds)."""

UTC_Z: Final[Zone] = (0, "Z", False)
_date_cache: dict[int, str] = {}
HMS: Final[list[str]] = [
    f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60)
]
"""``HH:MM:SS`` text of every second of a day, by second of the day."""


def format_ts(ms: int, zone: Zone) -> str:
    """RFC 3339 text of ``ms`` (epoch milliseconds) in ``zone``."""
    off, suffix, with_ms = zone
    day, rem = divmod(ms + off * MS_MIN, MS_DAY)
    d = _date_cache.get(day)
    if d is None:
        d = (_EPOCH_DATE + timedelta(days=day)).isoformat() + "T"
        _date_cache[day] = d
    sec, milli = divmod(rem, 1000)
    if with_ms:
        return f"{d}{HMS[sec]}.{milli:03d}{suffix}"
    return d + HMS[sec] + suffix


def quantize(ms: int, zone: Zone) -> int:
    """The instant ``format_ts(ms, zone)`` denotes (whole seconds unless the zone keeps ms)."""
    return ms if zone[2] else ms - ms % 1000


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of a timezone-aware ``dt``."""
    return (dt - _EPOCH) // timedelta(milliseconds=1)
