"""A fake subscriber (billing, prepaid, WFM, OMS): acknowledges the events it receives.

It takes CreatedMeterReadings and CreatedEndDeviceEvents, answers OK, and answers a
redelivered event (same Source and MessageID: the hub's outbox delivers at least once)
with the acknowledgement it gave the first time.
"""

from __future__ import annotations

from cimhub.conformance.fake import FakeEndpoint, Handler
from cimhub.conformance.observed import children
from cimhub.errors import PayloadError
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome


class FakeSubscriber(FakeEndpoint):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.acknowledged: dict[tuple[str, str], Outcome] = {}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("MeterReadings", "created"): self.event("MeterReading"),
            ("EndDeviceEvents", "created"): self.event("EndDeviceEvent"),
        }

    def event(self, item: str) -> Handler:
        def acknowledge(envelope: Envelope) -> Outcome:
            key = (envelope.header.source or "", envelope.header.message_id or "")
            if key[1] and key in self.acknowledged:
                return self.acknowledged[key]  # a redelivery: the same acknowledgement
            if envelope.payload is None or not children(envelope.payload, item):
                raise PayloadError(f"the event carries no {item}")
            count = len(children(envelope.payload, item))
            outcome = Outcome(summary=f"{count} {item}(s) received")
            if key[1]:
                self.acknowledged[key] = outcome
            return outcome

        return acknowledge
