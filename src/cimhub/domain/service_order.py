"""Service orders: field work (WFM) a rule opened for an exception, tracked to closure.

A service order is opened (and sent to the WFM subscribers) with its exception; the WFM's
feedback moves it: open → accepted → in_progress → completed → closed, or cancelled
from any state before completion. While a meter has an active service order, revenue
protection alerts on it are suppressed (seed 002 §2.4.10 c: field activity explains them).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum


class OrderStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


S = OrderStatus
FEEDBACK_MOVES: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    S.OPEN: frozenset({S.ACCEPTED, S.IN_PROGRESS, S.COMPLETED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.COMPLETED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: Field work under way: revenue-protection alerts on the meter are suppressed.
ACTIVE = frozenset({S.OPEN, S.ACCEPTED, S.IN_PROGRESS})


def may_report(current: OrderStatus, to: OrderStatus) -> bool:
    """Whether feedback may move an order from ``current`` to ``to``.

    >>> may_report(S.OPEN, S.COMPLETED), may_report(S.CLOSED, S.IN_PROGRESS)
    (True, False)
    """
    return to in FEEDBACK_MOVES[current]


def order_mrid(meter: str, rule: str, first_at: int) -> str:
    """The mRID of the order an exception opens, from its meter, rule and first occurrence:
    the same every time, so a WFM or a test can name it (one order per active exception).

    >>> order_mrid("SM1", "tamper.cover_open", 0) == order_mrid("SM1", "tamper.cover_open", 0)
    True
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-service-order:{meter}:{rule}:{first_at}"))
