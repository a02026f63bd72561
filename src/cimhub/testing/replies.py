"""Reading replies in tests: result, codes, continuation and the readings they carry."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from cimhub.mappings.timestamp import to_epoch
from cimhub.message import schema

MSG = "http://iec.ch/TC57/2011/schema/message"
MR = "http://iec.ch/TC57/2011/MeterReadings#"
NS = {"msg": MSG, "m": MR}


@dataclass(frozen=True)
class ParsedReply:
    root: etree._Element

    @classmethod
    def of(cls, body: bytes) -> ParsedReply:
        """Parse a reply, and insist it is valid against our own profiles: a hub that
        answers outside its published contract fails every test that reads the answer."""
        root = etree.fromstring(body)
        schema.validate(root)
        return cls(root)

    @property
    def result(self) -> str:
        return self.root.xpath("string(.//*[local-name()='Reply']/msg:Result)", namespaces=NS)

    @property
    def codes(self) -> list[str]:
        return self.root.xpath(
            ".//*[local-name()='Reply']/msg:Error/msg:code/text()", namespaces=NS
        )

    @property
    def reasons(self) -> list[str]:
        return self.root.xpath(
            ".//*[local-name()='Reply']/msg:Error/msg:reason/text()", namespaces=NS
        )

    @property
    def xpaths(self) -> list[str]:
        return self.root.xpath(
            ".//*[local-name()='Reply']/msg:Error/msg:xpath/text()", namespaces=NS
        )

    @property
    def correlation_id(self) -> str:
        return self.root.xpath(
            "string(.//*[local-name()='Header']/msg:CorrelationID)", namespaces=NS
        )

    @property
    def continuation(self) -> str | None:
        found = self.root.xpath(
            ".//*[local-name()='Reply']/msg:ID[@idType='continuation']/text()", namespaces=NS
        )
        return found[0] if found else None

    def readings(self) -> dict[tuple[str, str, int], float]:
        """(meter mRID, reading type, epoch) → value for every reading in the payload."""
        out: dict[tuple[str, str, int], float] = {}
        for reading in self.root.iterfind(f".//{{{MR}}}MeterReading"):
            mrid = reading.findtext(f"{{{MR}}}Meter/{{{MR}}}mRID")
            for block in reading.iterfind(f"{{{MR}}}IntervalBlocks"):
                code = block.find(f"{{{MR}}}ReadingType").get("ref")
                for ir in block.iterfind(f"{{{MR}}}IntervalReadings"):
                    out[(mrid, code, to_epoch(ir.findtext(f"{{{MR}}}timeStamp")))] = float(
                        ir.findtext(f"{{{MR}}}value")
                    )
            for r in reading.iterfind(f"{{{MR}}}Readings"):
                code = r.find(f"{{{MR}}}ReadingType").get("ref")
                out[(mrid, code, to_epoch(r.findtext(f"{{{MR}}}timeStamp")))] = float(
                    r.findtext(f"{{{MR}}}value")
                )
        return out

    def meter_names(self) -> dict[str, list[str]]:
        return {
            m.findtext(f"{{{MR}}}mRID"): m.xpath("m:Names/m:name/text()", namespaces=NS)
            for m in self.root.iterfind(f".//{{{MR}}}MeterReading/{{{MR}}}Meter")
        }
