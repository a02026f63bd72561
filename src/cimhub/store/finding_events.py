"""VEE findings announced through the outbox, in the transaction that stored them.

* **VeeFindings ``created``**: the findings a VEE run stored new; **``changed``**: those it
  cleared (no longer found), revived (found again) or found again with another verdict
  (severity, action, details: ``store.findings.VERDICT``), each with its ``status``. One outbox
  row per VEE run and matching subscription (not one per finding), its JSON body the
  findings as stored; the relay renders the ``VeeFindings`` payload
  (``mappings.vee_findings``, namespace ``urn:cimhub:VeeFindings:1``).
* A VeeFindings subscription's ``event_types`` filter findings: rule ids (``usage.zero``,
  or a family ``usage.*``) and severities (``info``, ``warning``, ``error``); a finding
  passes when it matches one of the rules listed (if any) and one of the severities
  listed (if any).
* New and revived findings also go to the hub's own exception rules, and so do cleared
  ones (a ``hub`` row for the consumer ``exceptions``, ``{"tenant_id", "findings",
  "cleared"}``, relayed and delivered like an asynchronous reply): the rules take the
  first at once instead of at the next sweep, and resolve the exceptions whose findings
  are all cleared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

NOUN = "VeeFindings"
CREATED, CHANGED = "created", "changed"
#: the hub's consumer of new findings (``handlers.finding_exceptions``)
EXCEPTIONS = "exceptions"
SEVERITIES = frozenset({"info", "warning", "error"})
#: what an announcement says of each finding (``data`` is the stored JSON text)
FIELDS = (
    "id", "meter_id", "reading_type_id", "rule", "severity", "quality", "action", "first_ts",
    "last_ts", "count", "description", "data", "config_version", "found_at", "cleared_at",
)  # fmt: skip


def wants(sub: Subscription, rule: str, severity: str) -> bool:
    """Whether a VeeFindings subscription's filter lets a finding through.

    >>> sub = Subscription("x", NOUN, (CREATED,), "", event_types=("usage.*", "error"))
    >>> wants(sub, "usage.spike", "error"), wants(sub, "usage.spike", "warning")
    (True, False)
    >>> wants(sub, "sum.check", "error")
    False
    """
    rules = [t for t in sub.event_types if t not in SEVERITIES]
    severities = [t for t in sub.event_types if t in SEVERITIES]
    return (not severities or severity in severities) and (
        not rules or any(rule == t or (t.endswith(".*") and rule.startswith(t[:-1])) for t in rules)
    )


class FindingEvents:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def announce(
        self,
        tenant_id: int,
        created: Sequence[dict[str, Any]],
        changed: Sequence[dict[str, Any]],
        revived: Sequence[int] = (),
    ) -> int:
        """Outbox rows for findings stored new (``created``) and cleared, revived or
        updated (``changed``, of which ``revived`` are the ids found again); how many."""
        outbox = OutboxRepository(self._uow)
        rows = 0
        take = [f["id"] for f in created] + list(revived)
        cleared = [f["id"] for f in changed if f.get("cleared_at") is not None]
        if take or cleared:  # the hub's exception rules take them, or resolve, promptly
            body = {"tenant_id": tenant_id, "findings": take, "cleared": cleared}
            outbox.add(tenant_id, Kind.HUB, noun=NOUN, verb=CREATED, address=EXCEPTIONS,
                       body=json.dumps(body).encode())  # fmt: skip
            rows += 1
        subs = [s for s in self._subscriptions(tenant_id) if s.noun == NOUN]
        if not subs:
            return rows
        tenant = self._uow.tenants.code_of(tenant_id)
        for verb, findings in ((CREATED, created), (CHANGED, changed)):
            for sub in subs:
                if not findings or not sub.matches(tenant, NOUN, verb):
                    continue
                wanted = [_snapshot(f) for f in findings if wants(sub, f["rule"], f["severity"])]
                if wanted:
                    body = json.dumps({"tenant": tenant, "findings": wanted}).encode()
                    outbox.add(tenant_id, Kind.EVENT, noun=NOUN, verb=verb, address=sub.name,
                               body=body)  # fmt: skip
                    rows += 1
        return rows

    def _subscriptions(self, tenant_id: int) -> list[Subscription]:
        """Active subscriptions for the tenant, read once per unit of work and tenant (a
        worker's batch of messages asks once; it may span tenants)."""
        key = f"_finding_subscriptions_{tenant_id}"
        cached = self._uow.__dict__.get(key)
        if cached is None:
            subs = SubscriptionRepository(self._uow).for_tenant(tenant_id)
            cached = [s for s in subs if s.active]
            self._uow.__dict__[key] = cached
        return list(cached)


def _snapshot(finding: dict[str, Any]) -> dict[str, Any]:
    out = {k: finding.get(k) for k in FIELDS}
    out["status"] = "open" if finding.get("cleared_at") is None else "cleared"
    return out
