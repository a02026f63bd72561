"""Commands to meters (EndDeviceControls): kinds, states and the allowed moves, as data.

requested → awaiting_approval (disconnects and switches to prepaid: a second person
approves) → approved → sent to the head-end → acknowledged → executed | failed | timed_out;
canceled before it is sent. Every move is a ``Transition`` with its time, actor and
reason; a move the table does not allow raises IllegalTransitionError (3.4). Repeating the
state a command is already in (a head-end sending the same status twice) is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.domain.rule import IllegalTransitionError
from cimhub.errors import DomainRuleError, InvalidValueError

#: Permission a user needs to approve a command (granted apart from creating one).
APPROVE_PERMISSION = "EndDeviceControls.approve"


class ApprovalError(DomainRuleError):
    """The approver is the requester (four-eyes rule), or the command needs no approval."""

    code = "3.9"


class CommandKind(StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    READ = "read"  # on-demand read
    LOAD_LIMIT = "load_limit"
    TIME_SYNC = "time_sync"  # set the meter's clock to the head-end's time
    MD_RESET = "md_reset"  # maximum-demand register reset
    PREPAID_MODE = "prepaid_mode"  # switch the meter to prepaid
    POSTPAID_MODE = "postpaid_mode"  # switch the meter to postpaid


#: EndDeviceControlType codes. 3.31.0.18 / 3.31.0.23 are the IEC 61968-9 RCD-switch
#: connect / disconnect codes (reference/cim.md §4). Every other code is a cimhub profile
#: choice, not a published code (reference/cim.md lists none for these actions); each
#: keeps the published domain of its action where there is one: 3.15.139.24 load limit set
#: (15 load control), 3.21.0.8 on-demand read, 3.36.116.13 time sync (36 clock, the
#: sub-domain of the time-sync events 3.36.116.58/85), 3.8.0.214 MD reset (8 demand),
#: 3.20.9.26 / 3.20.9.22 switch to prepaid / postpaid.
CONTROL_TYPES: Mapping[str, CommandKind] = MappingProxyType(
    {
        "3.31.0.18": CommandKind.CONNECT,
        "3.31.0.23": CommandKind.DISCONNECT,
        "3.21.0.8": CommandKind.READ,
        "3.15.139.24": CommandKind.LOAD_LIMIT,
        "3.36.116.13": CommandKind.TIME_SYNC,
        "3.8.0.214": CommandKind.MD_RESET,
        "3.20.9.26": CommandKind.PREPAID_MODE,
        "3.20.9.22": CommandKind.POSTPAID_MODE,
    }
)
CONTROL_CODES: Mapping[CommandKind, str] = MappingProxyType(
    {kind: code for code, kind in CONTROL_TYPES.items()}
)
#: EndDeviceAction/command words some senders use instead of (or beside) the code.
ACTION_WORDS: Mapping[str, CommandKind] = MappingProxyType(
    {
        "connect": CommandKind.CONNECT,
        "reconnect": CommandKind.CONNECT,
        "disconnect": CommandKind.DISCONNECT,
        "read": CommandKind.READ,
        "ondemandread": CommandKind.READ,
        "setloadlimit": CommandKind.LOAD_LIMIT,
        "loadlimit": CommandKind.LOAD_LIMIT,
        "timesync": CommandKind.TIME_SYNC,
        "synctime": CommandKind.TIME_SYNC,
        "clockset": CommandKind.TIME_SYNC,
        "setclock": CommandKind.TIME_SYNC,
        "mdreset": CommandKind.MD_RESET,
        "demandreset": CommandKind.MD_RESET,
        "resetmd": CommandKind.MD_RESET,
        "switchtoprepaid": CommandKind.PREPAID_MODE,
        "prepaidmode": CommandKind.PREPAID_MODE,
        "switchtopostpaid": CommandKind.POSTPAID_MODE,
        "postpaidmode": CommandKind.POSTPAID_MODE,
    }
)
#: Kinds that a second person must approve before they are sent: a disconnect, and a
#: switch to prepaid (from then on the meter disconnects itself when the balance runs
#: out, and utilities owe notice and a grace period first). A switch back to postpaid, a
#: time sync and an MD reset (which closes the billing period on the meter, its values
#: kept in the billing profile) need none.
NEEDS_APPROVAL = frozenset({CommandKind.DISCONNECT, CommandKind.PREPAID_MODE})


class State(StrEnum):
    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    EXECUTED = "executed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"


S = State
#: Allowed moves. A timed-out command still takes the head-end's late outcome.
TRANSITIONS: Mapping[State, frozenset[State]] = MappingProxyType(
    {
        S.REQUESTED: frozenset({S.AWAITING_APPROVAL, S.APPROVED, S.CANCELED, S.FAILED}),
        S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.CANCELED}),
        S.APPROVED: frozenset({S.SENT, S.CANCELED, S.FAILED}),
        S.SENT: frozenset({S.ACKNOWLEDGED, S.EXECUTED, S.FAILED, S.TIMED_OUT}),
        S.ACKNOWLEDGED: frozenset({S.EXECUTED, S.FAILED, S.TIMED_OUT}),
        S.TIMED_OUT: frozenset({S.EXECUTED, S.FAILED}),
        S.EXECUTED: frozenset(),
        S.FAILED: frozenset(),
        S.CANCELED: frozenset(),
    }
)
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Head-end status words (CIM status/value, vendor JSON) → state.
STATUS_WORDS: Mapping[str, State] = MappingProxyType(
    {
        "queued": S.ACKNOWLEDGED,
        "accepted": S.ACKNOWLEDGED,
        "acknowledged": S.ACKNOWLEDGED,
        "ack": S.ACKNOWLEDGED,
        "executed": S.EXECUTED,
        "success": S.EXECUTED,
        "completed": S.EXECUTED,
        "failed": S.FAILED,
        "failure": S.FAILED,
        "rejected": S.FAILED,
    }
)


def parse_kind(code: str | None, action: str | None) -> CommandKind:
    """The command's kind from its EndDeviceControlType code, else its action word."""
    if code and code in CONTROL_TYPES:
        return CONTROL_TYPES[code]
    word = "".join(ch for ch in (action or "").lower() if ch.isalpha())
    if word in ACTION_WORDS:
        return ACTION_WORDS[word]
    raise InvalidValueError(
        f"unsupported EndDeviceControlType {code!r} (action {action!r})",
        xpath="EndDeviceControlType",
    )


def parse_status(word: str | None) -> State | None:
    """A head-end's status word as a state; None when it is not one we know."""
    return STATUS_WORDS.get("".join(ch for ch in (word or "").lower() if ch.isalpha()))


@dataclass(frozen=True, slots=True)
class Transition:
    state: State
    at: int
    actor: str
    reason: str = ""


@dataclass(slots=True)
class Command:
    """One command to one meter; ``history`` holds every move, oldest first."""

    mrid: str
    kind: CommandKind
    meter: MeterRef
    requester: str
    source: str
    reason: str = ""
    demand_limit_w: float | None = None
    correlation_id: str | None = None
    history: list[Transition] = field(default_factory=list)
    period: Period | None = None  #: what a read asks for (EndDeviceControl/scheduledInterval)
    reading_types: tuple[str, ...] = ()  #: what a read asks for, when known (all: empty)

    @property
    def state(self) -> State:
        return self.history[-1].state if self.history else S.REQUESTED

    @property
    def needs_approval(self) -> bool:
        return self.kind in NEEDS_APPROVAL

    def move(self, target: State, at: int, actor: str, reason: str = "") -> bool:
        """Move to ``target``; False when already there, IllegalTransitionError if refused."""
        if self.history and target is self.state:
            return False
        if self.history and target not in TRANSITIONS[self.state]:
            raise IllegalTransitionError(
                f"command {self.mrid!r} cannot go from {self.state} to {target}",
                object_id=self.mrid,
            )
        self.history.append(Transition(target, at, actor, reason))
        return True

    def submit(self, at: int) -> None:
        """The first moves of a new command: requested, then approval or approved."""
        self.move(S.REQUESTED, at, self.requester, self.reason)
        if self.needs_approval:
            self.move(S.AWAITING_APPROVAL, at, "cimhub", f"{self.kind} needs a second approval")
        else:
            self.move(S.APPROVED, at, "cimhub", "no approval needed")

    def approve(self, at: int, approver: str) -> None:
        """A second person approves; the requester may not approve their own command."""
        if self.state is not S.AWAITING_APPROVAL:
            raise IllegalTransitionError(
                f"command {self.mrid!r} is {self.state}, not awaiting approval",
                object_id=self.mrid,
            )
        if approver.strip().lower() == self.requester.strip().lower():
            raise ApprovalError(
                f"command {self.mrid!r} was requested by {approver!r}: another person approves",
                object_id=self.mrid,
            )
        self.move(S.APPROVED, at, approver, "approved")


#: EndDeviceEvents that close a meter's open command: the RCD switch's remote disconnect /
#: connect done or failed, time sync succeeded or failed (reference/cim.md §4), and the
#: meter's MD reset and switch to postpaid / prepaid (IS 15959 events 166, 211, 212, which
#: the vendor profiles map to the hub's own control codes; IS 15959 has no failure event
#: for them, so a failure comes only as the head-end's status or the timeout).
RCD_OUTCOMES: Mapping[str, tuple[CommandKind, State]] = MappingProxyType(
    {
        "3.31.0.68": (CommandKind.DISCONNECT, State.EXECUTED),
        "3.31.0.84": (CommandKind.DISCONNECT, State.FAILED),
        "3.31.0.42": (CommandKind.CONNECT, State.EXECUTED),
        "3.31.0.67": (CommandKind.CONNECT, State.FAILED),
        "3.36.116.58": (CommandKind.TIME_SYNC, State.EXECUTED),
        "3.36.116.85": (CommandKind.TIME_SYNC, State.FAILED),
        CONTROL_CODES[CommandKind.MD_RESET]: (CommandKind.MD_RESET, State.EXECUTED),
        CONTROL_CODES[CommandKind.POSTPAID_MODE]: (CommandKind.POSTPAID_MODE, State.EXECUTED),
        CONTROL_CODES[CommandKind.PREPAID_MODE]: (CommandKind.PREPAID_MODE, State.EXECUTED),
    }
)
#: States in which a command still waits for its outcome from the meter.
OPEN = frozenset({State.SENT, State.ACKNOWLEDGED, State.TIMED_OUT})
