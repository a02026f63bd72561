"""Master-data rule violations: one DomainRuleError subclass per code of the 3.x band."""

from __future__ import annotations

from cimhub.errors import DomainRuleError


class HierarchyCycleError(DomainRuleError):
    """A node would become its own ancestor."""

    code = "3.2"


class DuplicateError(DomainRuleError):
    """A serial number, mRID, consumer number or node code that is already taken."""

    code = "3.3"


class IllegalTransitionError(DomainRuleError):
    """A lifecycle move the transition table does not allow."""

    code = "3.4"


class InstalledElsewhereError(DomainRuleError):
    """The meter has an open installation at another site."""

    code = "3.5"


class RoleOccupiedError(DomainRuleError):
    """The site already has an active meter in that role."""

    code = "3.6"


class OverlapError(DomainRuleError):
    """Effective periods that must not overlap do."""

    code = "3.7"


class InUseError(DomainRuleError):
    """The object cannot be cancelled, deleted or closed while something depends on it."""

    code = "3.8"
