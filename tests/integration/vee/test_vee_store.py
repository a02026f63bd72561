"""VEE through the store on SQLite and PostgreSQL: ingest → validated layer with quality
codes, raw untouched; edits with who and why; time travel; findings; idempotent re-runs.
The "Done when" month through the database: test_vee_month_store.py."""

from __future__ import annotations

import time

from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.reading import MeterRef
from cimhub.mappings.timestamp import to_text
from cimhub.store.findings import FindingRepository
from cimhub.store.validated import ValidatedRepository
from cimhub.store.vee import VeeService, failures_report
from cimhub.testing import vee_month as vm
from cimhub.testing.replies import ParsedReply
from cimhub.vee.config import Layer, VeeConfig

KWH = vm.KWH
MR_MSG = "http://iec.ch/TC57/2011/MeterReadingsMessage"
GMR_MSG = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"
MSG = "http://iec.ch/TC57/2011/schema/message"
MR = "http://iec.ch/TC57/2011/MeterReadings#"
GMR = "http://iec.ch/TC57/2011/GetMeterReadings#"
IST = 330 * 60
#: local midnight two days ago: recent enough for the "old read date" rule, old enough for
#: the re-acquisition wait to have passed
DAY = (int(time.time()) + IST) // 86_400 * 86_400 - IST - 2 * 86_400
STEP = 900
TS = [DAY + STEP * (i + 1) for i in range(96)]
SPIKE, GAP = 40, (60, 61)  # 10:15 IST spiked; 15:15 and 15:30 IST never arrive


def readings(verb: str, values: dict[int, float], *, user: str = "", comment: str = "") -> bytes:
    element = verb[0].upper() + verb[1:] + "MeterReadings"
    user_xml = f"<msg:User><msg:UserID>{user}</msg:UserID></msg:User>" if user else ""
    comment_xml = f"<msg:Comment>{comment}</msg:Comment>" if comment else ""
    body = "".join(
        f"<IntervalReadings><timeStamp>{to_text(ts)}</timeStamp><value>{v}</value></IntervalReadings>"
        for ts, v in sorted(values.items())
    )
    return (
        f'<{element} xmlns="{MR_MSG}" xmlns:msg="{MSG}"><Header><msg:Verb>{verb}</msg:Verb>'
        f"<msg:Noun>MeterReadings</msg:Noun>{user_xml}<msg:MessageID>{time.time_ns()}"
        f"</msg:MessageID>{comment_xml}</Header>"
        f'<Payload><MeterReadings xmlns="{MR}"><MeterReading><IntervalBlocks>{body}'
        f'<ReadingType ref="{KWH}"/></IntervalBlocks><Meter><mRID>M-1</mRID></Meter>'
        f"</MeterReading></MeterReadings></Payload></{element}>"
    ).encode()


def query(**options: str) -> bytes:
    opts = "".join(
        f"<Option><msg:name>{k}</msg:name><msg:value>{v}</msg:value></Option>"
        for k, v in options.items()
    )
    return (
        f'<GetMeterReadings xmlns="{GMR_MSG}" xmlns:msg="{MSG}"><Header><msg:Verb>get</msg:Verb>'
        f"<msg:Noun>MeterReadings</msg:Noun></Header><Request>{opts}"
        f'<GetMeterReadings xmlns="{GMR}"><EndDevice><mRID>M-1</mRID></EndDevice>'
        f"<Reading><timePeriod><end>{to_text(TS[-1])}</end><start>{to_text(DAY)}</start>"
        f"</timePeriod></Reading></GetMeterReadings></Request></GetMeterReadings>"
    ).encode()


def qualities(body: bytes) -> dict[int, tuple[float, str]]:
    from cimhub.mappings.timestamp import to_epoch

    root = etree.fromstring(body)
    out = {}
    for ir in root.iterfind(f".//{{{MR}}}IntervalReadings"):
        codes = " ".join(
            q.get("ref")
            for q in ir.iterfind(f"{{{MR}}}ReadingQualities/{{{MR}}}ReadingQualityType")
        )
        out[to_epoch(ir.findtext(f"{{{MR}}}timeStamp"))] = (
            float(ir.findtext(f"{{{MR}}}value")),
            codes,
        )
    return out


def send(hub: Hub, raw: bytes) -> ParsedReply:
    return ParsedReply.of(hub.pipeline.process(Inbound(raw, "discom-a", "test")).body)


def day_values() -> dict[int, float]:
    values = {ts: round(0.3 + 0.01 * (i % 9), 3) for i, ts in enumerate(TS)}
    values[TS[SPIKE]] = 6.5
    for i in GAP:
        del values[TS[i]]
    return values


def ids(hub: Hub) -> tuple[int, int, int]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        [meter] = uow.meters.find(tenant, [MeterRef("M-1")])
        return tenant, meter, uow.reading_types.find_ids([KWH])[KWH]


def test_ingest_validates_at_once_and_get_returns_validated_by_default_raw_on_request(
    vee_hub: Hub,
) -> None:
    reply = send(vee_hub, readings("created", day_values()))
    assert reply.result == "OK" and "VEE: 96 validated" in reply.reasons[0]
    validated = qualities(vee_hub.pipeline.process(Inbound(query(), "discom-a", "t")).body)
    assert len(validated) == 96  # the gap is filled
    assert validated[TS[0]] == (0.3, "3.0.1")
    spike_value, spike_q = validated[TS[SPIKE]]
    assert spike_value < 1 and spike_q.split()[0] == "3.8.0" and "3.5.258" in spike_q
    assert [validated[TS[i]][1] for i in GAP] == ["3.8.0 3.5.259"] * 2
    raw = qualities(vee_hub.pipeline.process(Inbound(query(raw="true"), "discom-a", "t")).body)
    assert len(raw) == 94 and raw[TS[SPIKE]] == (6.5, "")  # raw exactly as received


def test_an_edit_needs_who_and_why_keeps_raw_and_leaves_an_audit_trail(vee_hub: Hub) -> None:
    send(vee_hub, readings("created", day_values()))
    after_vee = int(time.time())
    refused = send(vee_hub, readings("change", {TS[SPIKE]: 0.42}, user="op-17"))
    assert refused.result == "FAILED" and refused.codes == ["3.1"]
    time.sleep(1.1)  # edits are stamped in whole seconds: keep "before" and "after" apart
    ok = send(
        vee_hub, readings("change", {TS[SPIKE]: 0.42}, user="op-17", comment="site visit: 0.42")
    )
    assert ok.result == "OK", ok.reasons
    validated = qualities(vee_hub.pipeline.process(Inbound(query(), "discom-a", "t")).body)
    assert validated[TS[SPIKE]] == (0.42, "3.7.0")
    raw = qualities(vee_hub.pipeline.process(Inbound(query(raw="true"), "discom-a", "t")).body)
    assert raw[TS[SPIKE]] == (6.5, "")
    tenant, meter, rt = ids(vee_hub)
    with vee_hub.database.unit_of_work(hub=True) as uow:
        trail = ValidatedRepository(uow).versions(tenant, meter, rt, TS[SPIKE])
    first, second = trail
    assert (first.version, first.method, first.user_id) == (1, "estimated:linear_interpolation", "")
    assert first.rule == "usage.spike" and first.reason == "estimated after usage.spike"
    assert first.superseded_at == second.created_at
    assert (second.value, second.user_id, second.reason, second.method) == (
        0.42,
        "op-17",
        "site visit: 0.42",
        "edited",
    )
    # time travel: what billing saw right after VEE, before the edit
    as_of = to_text(after_vee)
    then = qualities(vee_hub.pipeline.process(Inbound(query(asOf=as_of), "discom-a", "t")).body)
    assert then[TS[SPIKE]][0] == first.value
    # a re-send of the same raw data does not overwrite the edit
    send(vee_hub, readings("created", day_values()))
    again = qualities(vee_hub.pipeline.process(Inbound(query(), "discom-a", "t")).body)
    assert again[TS[SPIKE]] == (0.42, "3.7.0")


def test_findings_are_queryable_counted_daily_and_a_rerun_is_idempotent(vee_hub: Hub) -> None:
    send(vee_hub, readings("created", day_values()))
    tenant, meter, rt = ids(vee_hub)
    with vee_hub.database.unit_of_work(hub=True) as uow:
        found = FindingRepository(uow).query(tenant, meter_ids=[meter], start=DAY, end=TS[-1])
        report = failures_report(uow, tenant, DAY, DAY + 86_400)
    assert sorted(f.rule for f in found) == ["interval.missing", "usage.spike"]
    assert {(r["rule"], r["findings"], r["meters"]) for r in report["by_rule"]} == {
        ("interval.missing", 1, 1),
        ("usage.spike", 1, 1),
    }
    service = VeeService()
    with vee_hub.database.unit_of_work(hub=True) as uow:
        run = service.rerun(uow, tenant, "discom-a", [meter], DAY, TS[-1], now=int(time.time()))
    assert (run.stored.inserted, run.stored.changed, run.new_findings) == (0, 0, 0)
    assert run.stored.unchanged == 96
    # a rule change, then a re-run: the spike is valid now, a new version; finding cleared
    lenient = VeeConfig(version="v2", defaults=Layer({"disabled": ["usage.spike"]}))
    with vee_hub.database.unit_of_work(hub=True) as uow:
        run = VeeService(lenient).rerun(
            uow, tenant, "discom-a", [meter], DAY, TS[-1], now=int(time.time())
        )
        spikes = FindingRepository(uow).query(tenant, rules=["usage.spike"])
        trail = ValidatedRepository(uow).versions(tenant, meter, rt, TS[SPIKE])
    assert run.stored.changed >= 1 and spikes == []
    assert (trail[-1].value, trail[-1].quality, trail[-1].version) == (6.5, "3.0.1", 2)


def test_a_rerun_judges_usage_against_stored_like_days(vee_hub: Hub) -> None:
    """On ingest a day alone has no history to be judged against; a re-run fetches the
    like-day lookback from the validated layer and finds the day far below its like days."""
    before = DAY - 15 * 86_400
    history = {before + STEP * (i + 1): round(0.3 + 0.01 * (i % 9), 3) for i in range(15 * 96)}
    send(vee_hub, readings("created", history))
    low = send(vee_hub, readings("created", {ts: 0.01 for ts in TS}))
    assert low.result == "OK"
    tenant, meter, _ = ids(vee_hub)
    with vee_hub.database.unit_of_work(hub=True) as uow:
        assert FindingRepository(uow).query(tenant, rules=["usage.history"]) == []
        run = VeeService().rerun(
            uow, tenant, "discom-a", [meter], DAY, TS[-1], now=int(time.time())
        )
        [finding] = FindingRepository(uow).query(tenant, rules=["usage.history"])
    assert run.new_findings >= 1
    assert finding.quality == "3.6.6" and round(finding.data["day_total"], 6) == 0.96
