"""A tenant (one DISCOM) and the settings it may override on its own row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int
    code: str
    name: str
    #: Create unknown meters on their first readings; None: the hub-wide setting decides.
    auto_register_meters: bool | None = None
    #: Approvals need a one-time code (seed 004, MP); None: the hub-wide setting decides.
    approval_codes: bool | None = None
    #: A GetMeterReadings on data older than this reads on demand (0: only when asked);
    #: None: the hub-wide CIMHUB_ON_DEMAND_STALE_MINUTES decides.
    on_demand_stale_minutes: int | None = None

    def auto_registers(self, hub_default: bool) -> bool:
        """The tenant's own choice, else the hub's.

        >>> Tenant(1, "a", "A").auto_registers(True)
        True
        >>> Tenant(1, "a", "A", auto_register_meters=False).auto_registers(True)
        False
        """
        return hub_default if self.auto_register_meters is None else self.auto_register_meters

    def asks_approval_codes(self, hub_default: bool) -> bool:
        """The tenant's own choice, else the hub's.

        >>> Tenant(1, "a", "A", approval_codes=True).asks_approval_codes(False)
        True
        """
        return hub_default if self.approval_codes is None else self.approval_codes

    def stale_minutes(self, hub_default: int) -> int:
        """The tenant's own staleness threshold, else the hub's.

        >>> Tenant(1, "a", "A", on_demand_stale_minutes=0).stale_minutes(60)
        0
        >>> Tenant(1, "a", "A").stale_minutes(60)
        60
        """
        if self.on_demand_stale_minutes is None:
            return hub_default
        return self.on_demand_stale_minutes
