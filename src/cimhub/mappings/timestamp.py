"""xs:dateTime ↔ UTC epoch seconds, cached: a message repeats the same few stamps many times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from cimhub.errors import InvalidValueError, MissingTimeZoneError


@lru_cache(maxsize=1 << 16)
def to_epoch(text: str) -> int:
    """'2026-11-21T00:15:00+05:30' → 1763664300; a stamp without a zone is refused.

    >>> to_epoch("2026-11-20T18:45:00Z")
    1763664300
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidValueError(f"{text!r} is not an xs:dateTime") from exc
    if moment.tzinfo is None:
        raise MissingTimeZoneError(f"timestamp {text!r} has no time zone")
    return int(moment.timestamp())


@lru_cache(maxsize=1 << 16)
def to_text(epoch: int) -> str:
    """UTC epoch seconds → '2026-11-20T18:45:00Z'."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
