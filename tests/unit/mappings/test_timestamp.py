from __future__ import annotations

import pytest

from cimhub.errors import InvalidValueError, MissingTimeZoneError
from cimhub.mappings.timestamp import to_epoch, to_text


def test_offsets_and_z_are_the_same_instant() -> None:
    assert to_epoch("2026-11-21T05:30:00+05:30") == to_epoch("2026-11-21T00:00:00Z")
    assert to_text(to_epoch("2026-11-21T05:30:00+05:30")) == "2026-11-21T00:00:00Z"


def test_timestamp_without_zone_is_refused() -> None:
    with pytest.raises(MissingTimeZoneError) as caught:
        to_epoch("2026-11-21T00:15:00")
    assert caught.value.code == "2.2"


def test_garbage_is_not_a_timestamp() -> None:
    with pytest.raises(InvalidValueError):
        to_epoch("yesterday")
