"""ReadingType reference data: 18-field codes to ids and back, decoded once and cached."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cimhub.domain.reading_type import parse_reading_type
from cimhub.store.models import ReadingType
from cimhub.store.sql import insert_ignore, member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: Decoded fields stored beside the code (the rest stay recoverable from the code).
DECODED = (
    "macro_period",
    "aggregate",
    "measuring_period",
    "interval_seconds",
    "accumulation",
    "flow_direction",
    "commodity",
    "measurement_kind",
    "tou",
    "phases",
    "multiplier",
    "unit",
    "unit_symbol",
)


class ReadingTypeRepository:
    """Global, not per tenant; rows never change, so code ↔ id is cached per Database."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def find_ids(self, codes: Iterable[str]) -> dict[str, int]:
        """The id of every code already stored; never creates (for queries)."""
        cached = self._uow.cache.reading_type_ids
        wanted = set(codes)
        found = {code: cached[code] for code in wanted if code in cached}
        missing = wanted - found.keys()
        if missing:
            fetched = self._fetch(missing)
            found.update(fetched)
            self._uow.on_commit(lambda: self._uow.cache.remember_reading_types(fetched))
        return found

    def ids_for(self, codes: Iterable[str]) -> dict[str, int]:
        """The id of every code, creating (decoded) rows for codes never seen before.

        Raises ``InvalidValueError`` for a code that is not 18 integer fields.
        """
        wanted = set(codes)
        found = self.find_ids(wanted)
        new = wanted - found.keys()
        if new:
            rows = [_decoded_row(code) for code in sorted(new)]
            self._uow.session.execute(insert_ignore(ReadingType, self._uow.dialect, "code"), rows)
            created = self._fetch(new)
            found.update(created)
            self._uow.on_commit(lambda: self._uow.cache.remember_reading_types(created))
        return found

    def codes_for(self, ids: Iterable[int]) -> dict[int, str]:
        """The code of every id that exists."""
        cached = self._uow.cache.reading_type_codes
        wanted = set(ids)
        found = {rt_id: cached[rt_id] for rt_id in wanted if rt_id in cached}
        missing = wanted - found.keys()
        if missing:
            rows = self._uow.session.execute(
                select(ReadingType.code, ReadingType.id).where(
                    member_of(ReadingType.id, missing, self._uow.dialect)
                )
            )
            fetched = dict(rows.all())
            found.update((rt_id, code) for code, rt_id in fetched.items())
            self._uow.on_commit(lambda: self._uow.cache.remember_reading_types(fetched))
        return found

    def _fetch(self, codes: set[str]) -> dict[str, int]:
        rows = self._uow.session.execute(
            select(ReadingType.code, ReadingType.id).where(
                member_of(ReadingType.code, codes, self._uow.dialect)
            )
        )
        return dict(rows.all())


def _decoded_row(code: str) -> dict[str, Any]:
    decoded = parse_reading_type(code)
    return {"code": code, **{name: getattr(decoded, name) for name in DECODED}}
