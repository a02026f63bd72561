"""A conformance case: what to send, in which order, and what must come back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources.abc import Traversable
from typing import Any

#: The placeholder every request and expected reply may hold; the runner puts a token
#: unique to the run there, so MessageIDs never repeat across runs against one system.
RUN_PLACEHOLDER = b"{{RUN}}"
#: Replaced by the URL of the runner's reply listener (see listener.py).
REPLY_PLACEHOLDER = b"{{REPLY_ADDRESS}}"


def utc_text(epoch: int) -> str:
    """UTC epoch seconds → '2024-06-14T18:45:00Z', for messages about readings."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Role(StrEnum):
    """What the system under test is; the runner plays the other side."""

    MDM = "mdm"  # we play the HES and billing
    HES = "hes"  # we play the MDM
    SUBSCRIBER = "subscriber"  # we deliver outbound events


TRANSPORTS = ("http", "soap", "amqp")


class CaseError(ValueError):
    """A case folder that cannot be read: names the file and what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ReadingSpec:
    """A reading to look for in a reply; unset fields match anything."""

    meter: str
    reading_type: str | None = None
    at: int | None = None  # UTC epoch seconds
    value: float | None = None
    qualities: frozenset[str] = frozenset()  # ReadingQualityType refs it must carry

    def describe(self) -> str:
        parts = [self.meter, self.reading_type or "*", utc_text(self.at) if self.at else "*"]
        value = "" if self.value is None else f"={self.value:g}"
        return "/".join(parts) + value + (f" {sorted(self.qualities)}" if self.qualities else "")


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """A reply must hold exactly `count` readings of one meter and type inside (start, end]."""

    meter: str
    reading_type: str
    start: int
    end: int
    count: int


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one exchange must answer. None means: not checked."""

    result: str | None = None  # OK | PARTIAL | FAILED
    codes: tuple[str, ...] | None = None  # the Reply/Error codes, in any order
    code_in: tuple[str, ...] | None = None  # the first code is one of these
    http_status: str | None = None  # "200", "413", "4xx"
    fault: bool | None = None  # SOAP: a Fault is (not) expected
    expected: str | None = None  # file holding the expected reply
    same_reply_as: str | None = None  # name of an earlier step whose reply must come again
    correlation: bool | None = None  # check the echo rule; None: when the header is readable
    readings: tuple[ReadingSpec, ...] = ()
    readings_of: tuple[str, ...] = ()  # files whose payload readings must all be present
    absent: tuple[ReadingSpec, ...] = ()
    exact_readings: bool = False  # no reading beyond readings and readings_of
    series: tuple[SeriesSpec, ...] = ()
    follow_continuation: bool = False  # walk a paged reply to its last page
    min_pages: int = 1
    async_reply: Expectation | None = None  # the full reply POSTed to {{REPLY_ADDRESS}}
    async_wait: float = 30.0  # seconds to wait for it


@dataclass(frozen=True, slots=True)
class Step:
    """One message sent and its reply checked: a setup step, the case's request, a check."""

    name: str  # "setup-1", "request", "then-1"
    title: str
    send: str  # file name in the case folder
    generate: dict[str, Any] | None  # a transformation of that file (see hostile.py)
    expect: Expectation
    per_transport: dict[str, Expectation] = field(default_factory=dict)

    def expectation(self, transport: str) -> Expectation:
        return self.per_transport.get(transport, self.expect)


@dataclass(frozen=True, slots=True)
class Case:
    id: str  # role/Noun/verb/NNN-slug
    role: Role
    noun: str
    verb: str
    slug: str
    folder: Traversable
    title: str
    about: str
    use_cases: tuple[str, ...]
    tags: tuple[str, ...]
    transports: tuple[str, ...]
    requires: tuple[str, ...]  # SUT features the case needs (see --sut-has)
    mask: tuple[str, ...]
    ignore: tuple[str, ...]
    alive: bool  # probe the endpoint afterwards: it must still answer
    steps: tuple[Step, ...]

    def file(self, name: str) -> bytes:
        entry = self.folder / name
        if not entry.is_file():
            raise CaseError(self.id, f"no file {name!r} in the case folder")
        return entry.read_bytes()

    def has_file(self, name: str) -> bool:
        return (self.folder / name).is_file()

    def with_ignore(self, extra: tuple[str, ...]) -> Case:
        return replace(self, ignore=self.ignore + extra) if extra else self
