"""The registry of handlers keyed by (noun, verb): adding a noun is a module and a line here.

A handler may also come as a ``Group``: several messages of one tenant handled as one
(a worker's batch of one-meter MeterReadings: one meter look-up, one COPY, one VEE run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Group:
    """A handler for several messages at once; the single handler is a group of one.

    ``prepare`` reads one message without I/O and raises a FunctionalError to refuse it
    (it is then refused alone, as its single handling would); ``handle`` takes each
    message's context (one unit of work and tenant for all) with what ``prepare`` made,
    and answers each message with its own Outcome, in order.
    """

    prepare: Callable[[Envelope], Any]
    handle: Callable[[Sequence[tuple[HandlerContext, Any]]], list[Outcome]]

    def one(self, ctx: HandlerContext, envelope: Envelope) -> Outcome:
        """The single handler: a group of one message."""
        return self.handle([(ctx, self.prepare(envelope))])[0]

    @staticmethod
    def alone(handler: Handler) -> Group:
        """A single handler as a Group that handles its messages one after the other."""
        return Group(lambda envelope: envelope, lambda pairs: [handler(c, e) for c, e in pairs])


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, Verb], Handler] = {}
        self._groups: dict[tuple[str, Verb], Group] = {}

    def register(self, noun: str, verbs: Iterable[Verb], handler: Handler | Group) -> None:
        for verb in verbs:
            if isinstance(handler, Group):
                self._groups[(noun, verb)] = handler
                self._handlers[(noun, verb)] = handler.one
            else:  # replaces a Group registered before, too
                self._handlers[(noun, verb)] = handler
                self._groups.pop((noun, verb), None)

    def get(self, noun: str, verb: Verb) -> Handler | None:
        return self._handlers.get((noun, verb))

    def group(self, noun: str, verb: Verb) -> Group | None:
        """The group handler of (noun, verb), if it has one."""
        return self._groups.get((noun, verb))

    def supported(self) -> list[tuple[str, Verb]]:
        return sorted(self._handlers)


def default_registry() -> Registry:
    """Every handler the hub ships."""
    from cimhub.handlers import (
        end_device_controls,
        end_device_events,
        master_data,
        meter_readings,
        service_requests,
    )

    registry = Registry()
    meter_readings.register(registry)
    master_data.register(registry)
    end_device_events.register(registry)
    end_device_controls.register(registry)
    service_requests.register(registry)
    return registry
