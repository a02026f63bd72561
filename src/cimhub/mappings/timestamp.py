"""xs:dateTime ↔ UTC epoch seconds, cached: a message repeats the same few stamps many times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from cimhub.errors import InvalidValueError, MissingTimeZoneError


@lru_cache(maxsize=1 << 16)
def to_epoch(text: str) -> int:
    """'2025-11-21T00:15:00+05:30' → 1763664300; a stamp without a zone is refused.

    >>> to_epoch("2025-11-20T18:45:00Z")
    1763664300
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidValueError(f"{text!r} is not an xs:dateTime") from exc
    if moment.tzinfo is None:
        raise MissingTimeZoneError(f"timestamp {text!r} has no time zone")
    return int(moment.timestamp())


#: Column-wise memo of ``to_epoch`` (a dict lookup is 4× cheaper than an lru_cache call).
_EPOCHS: dict[str, int] = {}
_EPOCHS_MAX = 1 << 16


def to_epochs(stamps: Sequence[str]) -> list[int]:
    """``to_epoch`` of every stamp; each distinct string is parsed once per process.

    >>> to_epochs(["2025-11-20T18:45:00Z", "2025-11-21T00:15:00+05:30"])
    [1763664300, 1763664300]
    """
    epochs = list(map(_EPOCHS.get, stamps))
    if None in epochs:
        if len(_EPOCHS) > _EPOCHS_MAX:
            _EPOCHS.clear()
        for i, epoch in enumerate(epochs):
            if epoch is None:
                epochs[i] = _EPOCHS[stamps[i]] = to_epoch(stamps[i])
    return epochs  # type: ignore[return-value]  # every None was replaced


@lru_cache(maxsize=1 << 16)
def to_text(epoch: int) -> str:
    """UTC epoch seconds → '2026-11-20T18:45:00Z'."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
