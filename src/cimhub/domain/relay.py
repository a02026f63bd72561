"""A meter's relay (its supply switch) over time, from what the hub learnt of its switching.

Two sources tell of a switch: an executed connect / disconnect command (EndDeviceControl
3.31.0.18 / 3.31.0.23 reported ``executed`` by the head-end) and the RCD-switch events the
meter logs (3.31.0.42 remote connect done, 3.31.0.68 remote disconnect done; reference
cim.md §4). Often both arrive for one switch, in either order and with slightly
different times (the head-end's clock and the meter's): whichever the hub learns first
sets the state, and the other only confirms it. So the periods are always derived from
every switch known, sorted by time: a repeat of the state the relay is in changes nothing
(the first one counts). Before a meter's first known switch its relay state is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from cimhub.domain.command import CommandKind
from cimhub.domain.outage import differing_spans


class Relay(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


#: RCD-switch events that report a switch done (the failures, .67 / .84, switch nothing).
SWITCH_EVENTS: Mapping[str, Relay] = MappingProxyType(
    {"3.31.0.42": Relay.CONNECTED, "3.31.0.68": Relay.DISCONNECTED}
)
#: Command kinds whose execution switches the relay.
SWITCH_COMMANDS: Mapping[CommandKind, Relay] = MappingProxyType(
    {CommandKind.CONNECT: Relay.CONNECTED, CommandKind.DISCONNECT: Relay.DISCONNECTED}
)


@dataclass(frozen=True, slots=True)
class RelayPeriod:
    """The relay in ``state`` from ``start`` until ``end`` (None: still)."""

    start: int
    end: int | None
    state: Relay


def derive_relay(switches: Iterable[tuple[int, Relay]]) -> list[RelayPeriod]:
    """Switches (time, state) as periods, oldest first. A repeat of the state the relay is
    in changes nothing; of two opposite switches at one instant the one sorted last
    (disconnected) stands, so no period is empty.

    >>> C, D = Relay.CONNECTED, Relay.DISCONNECTED
    >>> [(p.start, p.end, p.state.value) for p in derive_relay(
    ...     [(900, C), (100, D), (120, D), (2000, D), (2000, C)])]
    [(100, 900, 'disconnected'), (900, 2000, 'connected'), (2000, None, 'disconnected')]
    """
    periods: list[RelayPeriod] = []
    for ts, state in sorted(switches):
        if periods and periods[-1].start == ts:
            periods.pop()
            if periods:
                periods[-1] = RelayPeriod(periods[-1].start, None, periods[-1].state)
        if periods and periods[-1].state is state:
            continue
        if periods:
            periods[-1] = RelayPeriod(periods[-1].start, ts, periods[-1].state)
        periods.append(RelayPeriod(ts, None, state))
    return periods


def changed_spans(
    before: Iterable[RelayPeriod], after: Iterable[RelayPeriod]
) -> list[tuple[int, int | None]]:
    """Where two derivations of one meter's relay periods disagree (None: open).

    >>> C, D = Relay.CONNECTED, Relay.DISCONNECTED
    >>> changed_spans([RelayPeriod(100, None, D)],
    ...               [RelayPeriod(100, 900, D), RelayPeriod(900, None, C)])
    [(100, None)]
    """
    return differing_spans(
        {(p.start, p.end, p.state) for p in before}, {(p.start, p.end, p.state) for p in after}
    )
