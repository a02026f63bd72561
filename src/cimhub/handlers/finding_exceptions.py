"""The hub's own consumer of VEE findings: exception rules take new ones as soon as the
transaction that stored them is committed, not at the next 15-minute sweep, and resolve
the exceptions whose findings a later run cleared.

Each VEE run that stores new, revived or cleared findings writes one outbox row for this
consumer (``store.finding_events``: ``{"tenant_id": …, "findings": [ids], "cleared":
[ids]}``); the relay hands it over like an asynchronous reply, so it is retried and
dead-lettered like one. The rules claim each finding once (``Exceptions.on_findings``): a
redelivery, or the sweep passing by later, opens nothing twice; resolving is idempotent
(``Exceptions.on_cleared`` looks only at active exceptions). The sweep stays the safety
net for whatever this misses.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from cimhub.handlers.exceptions import Exceptions
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.finding_events import EXCEPTIONS

NAME = EXCEPTIONS


def consumer(database: Database, settings: Settings) -> Callable[[bytes], None]:
    """The consumer: one unit of work per announcement, in the findings' tenant."""

    def take(body: bytes) -> None:
        message = json.loads(body)
        tenant_id, ids = int(message["tenant_id"]), [int(i) for i in message["findings"]]
        cleared = [int(i) for i in message.get("cleared", ())]
        with database.unit_of_work(tenant_id) as uow:
            service = Exceptions(uow, settings)
            service.on_findings(tenant_id, ids)
            service.on_cleared(tenant_id, cleared)

    return take
