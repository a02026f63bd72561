"""VEE findings on the bus, on both backends: subscribers of VeeFindings get new findings
(filtered by rule and severity) and cleared ones, in our documented payload; the hub's
own exception rules take new findings at once, and the sweep never counts one twice."""

from __future__ import annotations

import json
from pathlib import Path

from cimhub.handlers import finding_exceptions
from cimhub.store.subscriptions import Subscription
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.receiver import Receiver
from cimhub.testing.vee_days import at, day_of, with_zeros
from cimhub.testing.vee_hub import VeeHub, finding_events, meter
from cimhub.testing.waiting import wait_until

FINDINGS = "VeeFindings"


def test_subscribers_get_new_findings_filtered_and_then_the_cleared_one(
    vee: VeeHub, receiver: Receiver
) -> None:
    with Receiver() as spikes, Receiver() as errors:
        for name, verbs, url, types in (
            ("all", ("created", "changed"), receiver.url, ()),
            ("spikes", ("created",), spikes.url, ("usage.*", "warning", "error")),
            ("errors", ("created",), errors.url, ("error",)),
        ):
            vee.hub.bus.put_subscription(  # type: ignore[union-attr]
                Subscription(name, FINDINGS, verbs, url, event_types=types)
            )
        vee.outage(0, at(-1, 9), at(-1, 10))  # HES-A reports power events: SM3's are known
        # SM3 (5 kW): a spike of 1.8 at 10:15, zeros 16:15–21:00, 22:00 and 22:15 lost
        values = with_zeros(day_of(0.3), at(0, 16), at(0, 21), (at(0, 22), at(0, 22.25)))
        values[at(0, 10.25)] = 1.8
        vee.send(readings_message(meter(3), {KWH: values}))
        [(verb, tenant, everything)] = finding_events(receiver.wait_for(1))
        [(_, _, usage)] = finding_events(spikes.wait_for(1))
        [(_, _, errs)] = finding_events(errors.wait_for(1))
    assert (verb, tenant) == ("created", "t1")
    by_rule = {f["rule"]: f for f in everything}
    assert {r: (f["severity"], f["status"]) for r, f in by_rule.items()} == {
        "usage.spike": ("error", "open"),
        "usage.zero": ("warning", "open"),
        "interval.missing": ("error", "open"),
    }
    zero = by_rule["usage.zero"]
    assert (zero["meter"], zero["reading_type"], zero["readings"]) == (meter(3), KWH, 20)
    assert (zero["first_ts"], zero["last_ts"]) == (at(0, 16.25), at(0, 21))
    [stored] = vee.findings(3, "usage.zero")
    assert zero["id"] == stored.id and zero["quality"] == "3.6.1"
    # neighbours of slot 40: slots 36–39 and 41–44 at 0.3 + 0.001 × (slot % 7):
    # .301 .302 .303 .304 | .306 .300 .301 .302 → median 0.302
    assert by_rule["usage.spike"]["data"] == {"value": 1.8, "baseline": 0.302}
    assert [f["rule"] for f in usage] == ["usage.spike", "usage.zero"]  # rule AND severity
    assert sorted(f["rule"] for f in errs) == ["interval.missing", "usage.spike"]
    # the supply was off 16:00–21:00 after all: the zero finding is cleared, and said so
    vee.outage(3, at(0, 16), at(0, 21))
    [_, (verb, _, [cleared])] = finding_events(receiver.wait_for(2))
    assert (verb, cleared["id"], cleared["status"]) == ("changed", zero["id"], "cleared")
    assert cleared["cleared_at"] is not None


def test_the_hubs_exception_rules_take_a_new_finding_at_once_and_only_once(
    vee: VeeHub,
) -> None:
    values = day_of(0.3)
    values[at(0, 8)] = -0.4  # negative consumption: an exception rule watches it
    vee.send(readings_message(meter(0), {KWH: values}))
    [exception] = wait_until(vee.exceptions)  # no sweep ran: the announcement did it
    assert (exception.rule, exception.source, exception.occurrences) == (
        "negative_consumption",
        "usage.negative",
        1,
    )
    [finding] = vee.findings(0, "usage.negative")
    again = json.dumps({"tenant_id": vee.ids()[0], "findings": [finding.id]}).encode()
    finding_exceptions.consumer(vee.hub.database, vee.hub.settings)(again)  # redelivered
    vee.hub.sweep_exceptions()  # the safety net finds nothing left to take
    [same] = _negative(vee)
    assert (same.id, same.occurrences) == (exception.id, 1)


def test_the_sweep_takes_what_no_announcement_reached(database_url: str, tmp_path: Path) -> None:
    vee = VeeHub.build(database_url, tmp_path, serve=False)  # no relay: nothing announced
    try:
        values = day_of(0.3)
        values[at(0, 8)] = -0.4
        vee.send(readings_message(meter(0), {KWH: values}))
        assert vee.exceptions() == []
        vee.hub.sweep_exceptions()
        [exception] = _negative(vee)
        vee.hub.sweep_exceptions()
        assert [(e.id, e.occurrences) for e in _negative(vee)] == [(exception.id, 1)]
    finally:
        vee.close()


def _negative(vee: VeeHub) -> list:
    return [e for e in vee.exceptions() if e.rule == "negative_consumption"]
