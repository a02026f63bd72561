"""What the store remembers across transactions: ids of immutable rows, known partitions.

Entries are added only after the transaction that read or created them commits (see
``UnitOfWork.on_commit``), so a rolled-back insert can never leave a dangling id behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class StoreCache:
    """Per-``Database`` memory; plain dicts and sets are safe enough across threads here
    because entries are only ever added, and adding the same entry twice is harmless."""

    tenants: dict[str, int] = field(default_factory=dict)
    tenant_codes: dict[int, str] = field(default_factory=dict)
    reading_type_ids: dict[str, int] = field(default_factory=dict)
    reading_type_codes: dict[int, str] = field(default_factory=dict)
    partitions: set[str] = field(default_factory=set)

    def remember_tenant(self, code: str, tenant_id: int) -> None:
        self.tenants[code] = tenant_id
        self.tenant_codes[tenant_id] = code

    def remember_reading_types(self, ids: dict[str, int]) -> None:
        self.reading_type_ids.update(ids)
        self.reading_type_codes.update((rt_id, code) for code, rt_id in ids.items())
