"""Who may do what: principals, permissions and the built-in roles, as data.

A permission is a dotted name:

* ``<Noun>.<verb>`` for a 61968-100 message: ``MeterReadings.created``,
  ``MeterReadings.get``, ``EndDeviceControls.create``;
* ``EndDeviceControls.approve`` to approve a disconnect/reconnect another person asked for;
* ``rest.<area>.read`` / ``rest.<area>.write`` for the REST API, one area per router
  (``rest.masterdata``, ``rest.reports``, ``rest.billing``, ``rest.subscriptions``,
  ``rest.metrics``);
* ``admin.read`` / ``admin.write`` for credentials, users, roles, grants and the audit log.

A role grants permission *patterns*: ``*`` matches any run of characters, so ``*.get``
is every query and ``rest.*.read`` every REST read. Roles and their grants live in the
store (the built-in ones seeded by migration 0004_security) and change with
``cimhub role grant``.

>>> permits(frozenset({"*.get", "rest.*.read"}), "MeterReadings.get")
True
>>> permits(frozenset({"*.get"}), "MeterReadings.created")
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase

#: Every REST area; a router needs ``rest.<area>.read`` for GET and ``….write`` otherwise.
REST_AREAS = (
    "masterdata", "reports", "billing", "subscriptions", "metrics", "exceptions", "commands", "vee"
)  # fmt: skip
ADMIN_READ = "admin.read"
ADMIN_WRITE = "admin.write"
APPROVE_CONTROL = "EndDeviceControls.approve"
#: The built-in roles (the migration seeds their grants; later changes are data).
BUILT_IN_ROLES = (
    "administrator",
    "operator",
    "analyst",
    "field supervisor",
    "billing system",
    "HES system",
    "read-only",
)


class Kind(StrEnum):
    """How a principal authenticated."""

    CREDENTIAL = "credential"  # a system's API key (REST, /cim, SOAP UsernameToken, AMQP)
    USER = "user"  # a person: name and password, or a session opened with them
    TOKEN = "token"  # an OAuth2/JWT bearer token from the identity provider
    LOOPBACK = "loopback"  # no authentication configured: loopback only, everything allowed


def permits(granted: Iterable[str], wanted: str) -> bool:
    """True when one of the granted patterns matches the wanted permission."""
    return any(fnmatchcase(wanted, pattern) for pattern in granted)


def message_permission(noun: str, verb: str) -> str:
    """The permission a 61968-100 message needs: ``MeterReadings.created``."""
    return f"{noun}.{verb}"


def rest_permission(area: str, write: bool) -> str:
    return f"rest.{area}.{'write' if write else 'read'}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: bound to exactly one tenant, with the permissions of its roles."""

    name: str
    tenant: str
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    kind: Kind = Kind.CREDENTIAL
    session: str | None = None  # the public id of the user's interactive session, if any

    def allows(self, permission: str) -> bool:
        return self.kind is Kind.LOOPBACK or permits(self.permissions, permission)


def loopback(tenant: str) -> Principal:
    """The principal of an unauthenticated request in open loopback mode."""
    return Principal("anonymous", tenant, frozenset(), frozenset({"*"}), Kind.LOOPBACK)


def permissions_of(roles: Iterable[str], grants: dict[str, frozenset[str]]) -> frozenset[str]:
    """The union of the grants of ``roles`` (unknown roles grant nothing)."""
    found: set[str] = set()
    for role in roles:
        found |= grants.get(role, frozenset())
    return frozenset(found)
