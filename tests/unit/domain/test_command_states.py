"""The command state machine: approval by a second person, allowed and refused moves."""

from __future__ import annotations

import pytest

from cimhub.domain.command import (
    FINAL,
    TRANSITIONS,
    ApprovalError,
    Command,
    CommandKind,
    State,
    parse_kind,
    parse_status,
)
from cimhub.domain.reading import MeterRef
from cimhub.domain.rule import IllegalTransitionError
from cimhub.errors import InvalidValueError


def make_command(kind: CommandKind = CommandKind.DISCONNECT, requester: str = "asha") -> Command:
    command = Command("C-1", kind, MeterRef("M-1"), requester=requester, source="CIS")
    command.submit(1000)
    return command


def test_a_disconnect_waits_for_approval_and_a_connect_does_not() -> None:
    assert make_command(CommandKind.DISCONNECT).state is State.AWAITING_APPROVAL
    assert make_command(CommandKind.CONNECT).state is State.APPROVED


def test_the_requester_may_not_approve_their_own_disconnect() -> None:
    command = make_command(requester="Asha")
    with pytest.raises(ApprovalError) as raised:
        command.approve(1010, "asha")
    assert raised.value.code == "3.9"
    assert command.state is State.AWAITING_APPROVAL


def test_a_second_person_approves_and_every_move_keeps_time_and_actor() -> None:
    command = make_command()
    command.approve(1010, "ravi")
    command.move(State.SENT, 1011, "cimhub")
    command.move(State.ACKNOWLEDGED, 1012, "HES-A")
    command.move(State.EXECUTED, 1013, "HES-A", "relay open")
    assert [(t.state, t.at, t.actor) for t in command.history] == [
        (State.REQUESTED, 1000, "asha"),
        (State.AWAITING_APPROVAL, 1000, "cimhub"),
        (State.APPROVED, 1010, "ravi"),
        (State.SENT, 1011, "cimhub"),
        (State.ACKNOWLEDGED, 1012, "HES-A"),
        (State.EXECUTED, 1013, "HES-A"),
    ]


def test_approving_a_command_that_needs_no_approval_is_refused_with_3_4() -> None:
    with pytest.raises(IllegalTransitionError) as raised:
        make_command(CommandKind.CONNECT).approve(1010, "ravi")
    assert raised.value.code == "3.4"


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([State.SENT], State.AWAITING_APPROVAL),
        ([State.SENT, State.EXECUTED], State.ACKNOWLEDGED),  # out of order
        ([State.CANCELED], State.SENT),
        ([State.SENT], State.CANCELED),  # too late to cancel
        ([State.SENT, State.FAILED], State.EXECUTED),
    ],
)
def test_illegal_moves_are_refused_with_3_4(path: list[State], refused: State) -> None:
    command = make_command(CommandKind.CONNECT)
    for state in path:
        command.move(state, 1001, "x")
    with pytest.raises(IllegalTransitionError) as raised:
        command.move(refused, 1002, "x")
    assert raised.value.code == "3.4"
    assert command.state is path[-1]


def test_a_repeated_status_is_a_no_op() -> None:
    command = make_command(CommandKind.CONNECT)
    command.move(State.SENT, 1001, "cimhub")
    assert command.move(State.ACKNOWLEDGED, 1002, "HES") is True
    assert command.move(State.ACKNOWLEDGED, 1003, "HES") is False
    assert len(command.history) == 4


def test_a_timed_out_command_still_takes_the_late_outcome() -> None:
    command = make_command(CommandKind.CONNECT)
    command.move(State.SENT, 1001, "cimhub")
    command.move(State.TIMED_OUT, 1100, "cimhub")
    command.move(State.EXECUTED, 1200, "HES")
    assert command.state is State.EXECUTED


def test_final_states_allow_nothing() -> None:
    assert {State.EXECUTED, State.FAILED, State.CANCELED} == FINAL
    assert all(TRANSITIONS[s] == frozenset() for s in FINAL)


def test_kinds_from_codes_and_action_words() -> None:
    assert parse_kind("3.31.0.23", None) is CommandKind.DISCONNECT
    assert parse_kind("3.31.0.18", "anything") is CommandKind.CONNECT
    assert parse_kind("", "setLoadLimit") is CommandKind.LOAD_LIMIT
    with pytest.raises(InvalidValueError):
        parse_kind("9.9.9.9", None)


def test_head_end_status_words() -> None:
    assert parse_status("Queued") is State.ACKNOWLEDGED
    assert parse_status("executed") is State.EXECUTED
    assert parse_status("FAILED") is State.FAILED
    assert parse_status("maybe") is None


@pytest.mark.parametrize(
    ("code", "word", "kind"),
    [
        ("3.36.116.13", "timeSync", CommandKind.TIME_SYNC),
        ("3.8.0.214", "demandReset", CommandKind.MD_RESET),
        ("3.20.9.26", "switchToPrepaid", CommandKind.PREPAID_MODE),
        ("3.20.9.22", "switchToPostpaid", CommandKind.POSTPAID_MODE),
    ],
)
def test_the_new_kinds_from_their_codes_and_from_their_action_words(
    code: str, word: str, kind: CommandKind
) -> None:
    assert parse_kind(code, None) is kind
    assert parse_kind("", word) is kind
    assert parse_kind(None, word.upper()) is kind


def test_a_switch_to_prepaid_waits_for_approval_and_the_other_new_kinds_do_not() -> None:
    assert make_command(CommandKind.PREPAID_MODE).state is State.AWAITING_APPROVAL
    for kind in (CommandKind.POSTPAID_MODE, CommandKind.TIME_SYNC, CommandKind.MD_RESET):
        assert make_command(kind).state is State.APPROVED, kind
