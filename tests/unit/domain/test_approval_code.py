"""One-time approval codes: issued hashed, bound to one list, single use, expiring, with a
limit of wrong attempts."""

from __future__ import annotations

import doctest

import pytest

from cimhub.domain import approval_code
from cimhub.domain.approval_code import (
    ExpiredCodeError,
    OtherListError,
    Policy,
    TooManyCodesError,
    UsedCodeError,
    VoidCodeError,
    WrongCodeError,
    hash_code,
    issue,
)

T0 = 1_718_425_800


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_a_code_is_random_digits_kept_only_as_a_salted_hash() -> None:
    first, code = issue("ravi", ["D-2", "D-1"], Policy(digits=8), T0)
    second, _ = issue("ravi", ["D-2", "D-1"], Policy(digits=8), T0)
    assert len(code) == 8 and code.isdigit()
    assert code not in first.code_hash and first.code_hash == hash_code(code, first.salt)
    assert first.salt != second.salt and first.code_hash != hash_code(code, second.salt)
    assert (first.mrids, first.expires_at, first.attempts) == (("D-1", "D-2"), T0 + 300, 0)


def test_the_right_code_for_the_same_list_works_once() -> None:
    challenge, code = issue("ravi", ["D-1", "D-2"], Policy(), T0)
    challenge.redeem(f" {code} ", ["D-2", "D-1", "D-1"], T0 + 299)
    assert challenge.used_at == T0 + 299
    with pytest.raises(UsedCodeError) as raised:
        challenge.redeem(code, ["D-1", "D-2"], T0 + 299)
    assert raised.value.code == "3.13"


def test_another_list_or_a_late_code_is_refused_and_costs_no_attempt() -> None:
    challenge, code = issue("ravi", ["D-1", "D-2"], Policy(ttl_seconds=60), T0)
    with pytest.raises(OtherListError):
        challenge.redeem(code, ["D-1"], T0 + 1)
    with pytest.raises(ExpiredCodeError) as raised:
        challenge.redeem(code, ["D-1", "D-2"], T0 + 60)
    assert (raised.value.code, challenge.attempts, challenge.used_at) == ("3.12", 0, None)


def test_wrong_codes_count_and_the_last_allowed_one_voids_the_code() -> None:
    challenge, code = issue("ravi", ["D-1"], Policy(max_attempts=2), T0)
    with pytest.raises(WrongCodeError, match=r"1 attempt\(s\) left") as raised:
        challenge.redeem(other_than(code), ["D-1"], T0 + 1)
    assert raised.value.code == "3.11"
    with pytest.raises(VoidCodeError) as raised:
        challenge.redeem(other_than(code), ["D-1"], T0 + 2)
    assert (raised.value.code, challenge.attempts) == ("3.14", 2)
    with pytest.raises(VoidCodeError):  # even the right code, now
        challenge.redeem(code, ["D-1"], T0 + 3)
    assert challenge.used_at is None


def test_doctests() -> None:
    assert doctest.testmod(approval_code).failed == 0


def test_codes_asked_for_in_the_window_are_counted_and_the_wait_is_the_oldest_s() -> None:
    policy = Policy(requests=3, window_seconds=900)
    policy.check_request([T0 - 900, T0 - 100, T0 - 50], T0)  # the first has left the window
    with pytest.raises(TooManyCodesError) as refused:
        policy.check_request([T0 - 899, T0 - 100, T0 - 50], T0)
    assert (refused.value.code, refused.value.retry_after) == ("6.3", 1)
    with pytest.raises(TooManyCodesError) as refused:  # more than allowed (a lowered limit)
        policy.check_request([T0 - 800, T0 - 700, T0 - 100, T0 - 50], T0)
    assert refused.value.retry_after == 200  # two must leave: the second oldest decides
