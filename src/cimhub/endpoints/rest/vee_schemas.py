"""Request and response shapes of the VEE API (they make its OpenAPI document).

Times are UTC epoch seconds; interval readings are stamped at their interval's end and a
period (start, end] excludes its start.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cimhub.domain.reading import ReadingKind
from cimhub.domain.reading_type import parse_reading_type
from cimhub.errors import InvalidValueError
from cimhub.vee.edit import Operation
from cimhub.vee.finding import Review

MAX_EDIT_READINGS = 10_000
Epoch = Annotated[int, Field(ge=0, le=2**40, description="UTC epoch seconds")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Finding(BaseModel):
    id: int
    meter: str = Field(description="the meter's mRID (or its name when it has none)")
    reading_type: str
    rule: str
    severity: str = Field(description="info, warning or error")
    quality: str = Field(description="the IEC 61968-9 ReadingQuality code it added")
    status: str = Field(description="open (still found) or cleared (no longer found)")
    first_ts: int
    last_ts: int
    count: int = Field(description="how many readings it concerns")
    description: str
    data: dict[str, Any] = Field(description="what the rule saw")
    found_at: int
    cleared_at: int | None = None
    review: Review = Field(description="a person's review: new, acknowledged or closed")
    reviewed_by: str | None = None
    reviewed_at: int | None = None
    review_note: str | None = None


class FindingDetail(Finding):
    timestamps: list[int] = Field(description="every reading (interval end) it concerns")


class PageOfFindings(BaseModel):
    items: list[Finding]
    total: int
    limit: int
    offset: int
    next: str | None = None


class RuleCount(BaseModel):
    rule: str
    severity: str
    findings: int
    meters: int = Field(description="how many meters the rule's findings touched")


class FailuresReport(BaseModel):
    tenant: str
    day: str = Field(description="the tenant's local day")
    start: int = Field(description="the day as UTC epoch seconds (start, end]")
    end: int
    findings: int = Field(description="findings first seen that day, still open")
    by_rule: list[RuleCount]


class Rule(BaseModel):
    id: str
    clause: str = Field(description="the clause of the VEE rules it implements")
    enabled: bool = Field(description="for this tenant (parameter `disabled`)")


class StoredOverrides(BaseModel):
    version: int
    parameters: dict[str, Any] = {}
    meter_type: dict[str, dict[str, Any]] = {}
    category: dict[str, dict[str, Any]] = {}


class RuleConfig(BaseModel):
    tenant: str
    config_version: str = Field(description="stamped on every validated value VEE makes")
    source: str = Field(description="where the configuration comes from")
    editable: bool = Field(description="whether PUT /vee/config can change it")
    stored: StoredOverrides | None = Field(description="the tenant's stored overrides, if any")
    rules: list[Rule]
    parameters: dict[str, Any] = Field(description="the tenant's values (defaults applied)")
    meter_type: dict[str, dict[str, Any]] = Field(description="overrides per meter type")
    category: dict[str, dict[str, Any]] = Field(description="overrides per consumer category")


class ReviewRequest(BaseModel):
    """A person acknowledges or closes a finding (a closed one may be acknowledged again)."""

    model_config = ConfigDict(extra="forbid")

    review: Literal[Review.ACKNOWLEDGED, Review.CLOSED]
    note: Text
    user: Name | None = Field(
        None, description="who reviews: required in open loopback mode (as for edits)"
    )


class VeeConfigRequest(BaseModel):
    """The tenant's VEE overrides, replacing those it stored before; they lie over the
    configuration file's section for the tenant. Names and types as in the file (see
    GET /vee/rules for every parameter); an empty document drops the stored overrides."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict, description="name → value")
    meter_type: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="meter type → parameters for its meters"
    )
    category: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="consumer category → parameters"
    )
    reason: Text
    user: Name | None = Field(None, description="who changes it (as for edits)")


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reading_type: str = Field(description="the ReadingType's 18-field code", max_length=100)
    kind: ReadingKind | None = Field(
        None, description="default: interval when the ReadingType has a measuring period"
    )
    reason: Text
    user: Name | None = Field(
        None,
        description="who edits: required in open loopback mode; with authentication it is "
        "the authenticated principal (a different name is refused)",
    )

    @field_validator("reading_type")
    @classmethod
    def _code(cls, code: str) -> str:
        try:
            return parse_reading_type(code).code
        except InvalidValueError as exc:
            raise ValueError(exc.reason) from exc

    @property
    def series_kind(self) -> ReadingKind:
        """The kind asked for, else the ReadingType's (a measuring period: interval data)."""
        if self.kind is not None:
            return self.kind
        interval = parse_reading_type(self.reading_type).interval_seconds > 0
        return ReadingKind.INTERVAL if interval else ReadingKind.REGISTER


class Reading(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ts: Epoch
    value: float


class EditRequest(_Change):
    """A manual edit: new values of some readings of one series."""

    readings: list[Reading] = Field(min_length=1, max_length=MAX_EDIT_READINGS)

    @model_validator(mode="after")
    def _distinct(self) -> EditRequest:
        if len({r.ts for r in self.readings}) != len(self.readings):
            raise ValueError("a timestamp appears twice in readings")
        return self


class CorrectionRequest(_Change):
    """A bulk correction of one series' validated readings over (start, end]."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start: Epoch
    end: Epoch
    operation: Operation
    factor: float | None = Field(None, description="for scale")
    value: float | None = Field(None, description="for replace")

    @model_validator(mode="after")
    def _period(self) -> CorrectionRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class EditedReading(BaseModel):
    ts: int
    before: float | None = Field(description="the validated value replaced (null: none)")
    after: float


class EditResult(BaseModel):
    meter: str
    reading_type: str
    user: str
    reason: str
    inserted: int
    changed: int
    unchanged: int
    audit_id: int = Field(description="the entry in the audit chain")
    readings: list[EditedReading]


class RawVersion(BaseModel):
    version: int
    value: float
    quality: str
    source: str
    received_at: int


class ValidatedVersion(BaseModel):
    version: int
    value: float
    quality: str
    method: str
    rule: str
    user: str = Field(description="who edited ('' when VEE made it)")
    reason: str
    created_at: int
    superseded_at: int | None = None


class Versions(BaseModel):
    meter: str
    reading_type: str
    ts: int
    kind: ReadingKind | None = Field(description="of the raw reading (null: none received)")
    raw: list[RawVersion] = Field(description="as received, oldest first")
    validated: list[ValidatedVersion] = Field(description="oldest first; the last is current")
