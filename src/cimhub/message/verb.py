"""The 61968-100 verbs, and the nouns this hub knows."""

from __future__ import annotations

from enum import StrEnum


class Verb(StrEnum):
    GET = "get"
    REPLY = "reply"
    CREATE = "create"
    CREATED = "created"
    CHANGE = "change"
    CHANGED = "changed"
    CANCEL = "cancel"
    CANCELED = "canceled"
    CLOSE = "close"
    CLOSED = "closed"
    DELETE = "delete"
    DELETED = "deleted"
    EXECUTE = "execute"
    EXECUTED = "executed"

    @property
    def element_prefix(self) -> str:
        """How the verb opens a strongly-typed element name: created → Created."""
        return self.value.capitalize()


class Noun(StrEnum):
    METER_READINGS = "MeterReadings"
    END_DEVICE_EVENTS = "EndDeviceEvents"
    END_DEVICE_CONTROLS = "EndDeviceControls"
    METER_CONFIG = "MeterConfig"
    USAGE_POINT_CONFIG = "UsagePointConfig"
    MASTER_DATA_LINKAGE_CONFIG = "MasterDataLinkageConfig"
    METER_SERVICE_REQUESTS = "MeterServiceRequests"


#: Nouns whose query object lives in a separate Get<Noun> profile (…/Get<Noun>#).
QUERY_NOUNS = {"Get" + n.value: n.value for n in Noun}


def parse_verb(text: str | None) -> Verb | None:
    try:
        return Verb((text or "").strip().lower())
    except ValueError:
        return None
