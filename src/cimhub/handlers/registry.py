"""The registry of handlers keyed by (noun, verb): adding a noun is a module and a line here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome
from cimhub.message.verb import Verb
from cimhub.settings import Settings
from cimhub.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler may use: one transaction, the tenant, settings and the message's log id."""

    uow: UnitOfWork
    tenant_id: int
    settings: Settings
    message_log_id: int | None
    received_at: int
    source: str
    actor: str = ""  # who sent the message (principal, else Header/User, else Source): audit


Handler = Callable[[HandlerContext, Envelope], Outcome]


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, Verb], Handler] = {}

    def register(self, noun: str, verbs: Iterable[Verb], handler: Handler) -> None:
        for verb in verbs:
            self._handlers[(noun, verb)] = handler

    def get(self, noun: str, verb: Verb) -> Handler | None:
        return self._handlers.get((noun, verb))

    def supported(self) -> list[tuple[str, Verb]]:
        return sorted(self._handlers)


def default_registry() -> Registry:
    """Every handler the hub ships."""
    from cimhub.handlers import end_device_controls, end_device_events, master_data, meter_readings

    registry = Registry()
    meter_readings.register(registry)
    master_data.register(registry)
    end_device_events.register(registry)
    end_device_controls.register(registry)
    return registry
