"""The audit chain's arithmetic, independent of any store."""

from __future__ import annotations

from cimhub.domain.audit import FIELDS, GENESIS, canonical, entry_hash, first_break


def chain(n: int) -> list[dict]:
    entries, prev = [], GENESIS
    for i in range(1, n + 1):
        fields = {
            "id": i,
            "at": 1_700_000_000 + i,
            "actor": "asha",
            "tenant": "a",
            "action": "x.change",
            "object": f"x:{i}",
            "before": None,
            "after": "{}",
        }
        digest = entry_hash(fields, prev)
        entries.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return entries


def test_canonical_json_is_key_order_and_whitespace_free() -> None:
    assert canonical({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert canonical({"ü": "₹"}) == '{"ü":"₹"}'


def test_an_intact_chain_has_no_break() -> None:
    entries = chain(4)
    assert first_break(entries, (4, entries[-1]["hash"])) is None
    assert first_break([], (0, GENESIS)) is None


def test_an_edit_breaks_at_the_edited_entry() -> None:
    entries = chain(4)
    entries[2]["actor"] = "mallory"
    broken = first_break(entries)
    assert broken is not None and broken.entry_id == 3


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    entries = chain(4)
    entries[1]["object"] = "x:forged"
    entries[1]["hash"] = entry_hash({k: entries[1][k] for k in FIELDS}, entries[1]["prev_hash"])
    broken = first_break(entries)
    assert broken is not None and broken.entry_id == 3
    assert "prev_hash" in broken.reason


def test_a_missing_entry_and_a_cut_tail_are_breaks() -> None:
    entries = chain(4)
    assert first_break([entries[0], *entries[2:]]).entry_id == 2  # type: ignore[union-attr]
    broken = first_break(entries[:3], (4, entries[3]["hash"]))
    assert broken is not None and "cut" in broken.reason
