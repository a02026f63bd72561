"""The audit chain's arithmetic: canonical JSON and each entry's hash over its predecessor.

An entry's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of its
fields together with the previous entry's hash, so changing, removing or reordering any
entry breaks every hash after it.

>>> first = entry_hash({"id": 1, "action": "login"}, GENESIS)
>>> first == entry_hash({"action": "login", "id": 1}, GENESIS)
True
>>> first == entry_hash({"id": 1, "action": "logout"}, GENESIS)
False
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
#: The fields of an entry that its hash covers (with ``prev_hash``).
FIELDS = ("id", "at", "actor", "tenant", "action", "object", "before", "after")


def canonical(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    body = canonical({**fields, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """Where the chain stops proving itself: the entry id and why."""

    entry_id: int
    reason: str


def first_break(
    entries: Iterable[Mapping[str, Any]], head: tuple[int, str] | None = None
) -> Break | None:
    """The first entry (in id order) whose link or hash is wrong, or None if the chain holds.

    ``head`` is (last id, last hash) as the chain-head row records them: a chain cut short
    at its end is a break too.
    """
    prev_hash, expected_id = GENESIS, 1
    for entry in entries:
        if entry["id"] != expected_id:
            return Break(expected_id, f"entry {expected_id} is missing (found {entry['id']})")
        if entry["prev_hash"] != prev_hash:
            return Break(entry["id"], "prev_hash does not match the previous entry's hash")
        if entry_hash({k: entry[k] for k in FIELDS}, prev_hash) != entry["hash"]:
            return Break(entry["id"], "hash does not match the entry's contents")
        prev_hash, expected_id = entry["hash"], expected_id + 1
    if head is not None and head != (expected_id - 1, prev_hash):
        return Break(expected_id - 1, f"the chain head names entry {head[0]}: entries were cut")
    return None
