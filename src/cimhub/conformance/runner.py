"""Run cases against an endpoint: setup steps, the request, follow-up checks, liveness."""

from __future__ import annotations

import fnmatch
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from lxml import etree

from cimhub import __version__
from cimhub.conformance import hostile
from cimhub.conformance.case import (
    REPLY_PLACEHOLDER,
    RUN_PLACEHOLDER,
    Case,
    Expectation,
    Role,
    Step,
)
from cimhub.conformance.check import Context, Problem, check
from cimhub.conformance.listener import ReplyListener
from cimhub.conformance.loader import Suite
from cimhub.conformance.observed import Observed, child, children, request_header, text
from cimhub.conformance.transport import Route, Target, Transport, open_transport
from cimhub.message import ns

MAX_PAGES = 1000


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Options:
    """One run: which cases, against what, how."""

    role: Role
    transport: str
    target: Target
    patterns: tuple[str, ...] = ()  # case ids to run (glob, or a substring)
    excludes: tuple[str, ...] = ()  # case ids or tags to leave out
    sut_has: tuple[str, ...] = ()  # features the SUT declares (cases may require them)
    ignore: tuple[str, ...] = ()  # extra paths to ignore in every comparison
    max_message_bytes: int = 50 * 1024 * 1024
    sut_name: str = ""
    reply_listen: str = "127.0.0.1:0"  # where async replies are received (HOST:PORT)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass(slots=True)
class Exchange:
    """One step as it happened, for the reports."""

    step: Step
    seen: Observed
    expected: bytes | None
    problems: list[Problem]


@dataclass(slots=True)
class CaseResult:
    case: Case
    status: Status
    problems: list[Problem] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    elapsed: float = 0.0
    skip_reason: str = ""


@dataclass(slots=True)
class RunReport:
    options: Options
    suite: Suite
    results: list[CaseResult]
    started: datetime
    elapsed: float
    version: str = __version__

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def passed(self) -> bool:
        return self.count(Status.FAILED) == 0 and self.count(Status.PASSED) > 0


def select(
    cases: Iterable[Case], patterns: Iterable[str] = (), excludes: Iterable[str] = ()
) -> list[Case]:
    """The cases matching any pattern (all when none) and no exclude."""
    patterns, excludes = list(patterns), list(excludes)
    return [
        c
        for c in cases
        if (not patterns or any(_matches(c, p) for p in patterns))
        and not any(_matches(c, p) for p in excludes)
    ]


def _matches(case: Case, pattern: str) -> bool:
    if pattern in case.tags:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(case.id, pattern)
    return pattern in case.id


class Runner:
    def __init__(
        self,
        suite: Suite,
        options: Options,
        *,
        on_result: Callable[[CaseResult], None] = lambda _: None,
        transport: Transport | None = None,
    ) -> None:
        self.suite = suite
        self.options = options
        self.on_result = on_result
        self.transport = transport or open_transport(options.transport, options.target)
        self._listener: ReplyListener | None = None  # started by the first case needing it

    def run(self, cases: Iterable[Case] | None = None) -> RunReport:
        started, clock = datetime.now(UTC), time.perf_counter()
        results = []
        try:
            if cases is None:
                o = self.options
                cases = select(self.suite.for_role(o.role), o.patterns, o.excludes)
            for case in cases:
                result = self.run_case(case)
                self.on_result(result)
                results.append(result)
        finally:
            self.transport.close()
            if self._listener is not None:
                self._listener.close()
        return RunReport(self.options, self.suite, results, started, time.perf_counter() - clock)

    def run_case(self, case: Case) -> CaseResult:
        if reason := self._skip_reason(case):
            return CaseResult(case, Status.SKIPPED, skip_reason=reason)
        clock = time.perf_counter()
        try:
            result = self._run_steps(case.with_ignore(self.options.ignore))
        except Exception as exc:  # a broken case must not end the run for the others
            problem = Problem(f"the runner could not run this case: {type(exc).__name__}: {exc}")
            result = CaseResult(case, Status.FAILED, [problem])
        result.elapsed = time.perf_counter() - clock
        return result

    def _run_steps(self, case: Case) -> CaseResult:
        result = CaseResult(case, Status.PASSED)
        earlier: dict[str, Observed] = {}
        for step in case.steps:
            exchange = self._exchange(case, step, earlier)
            result.exchanges.append(exchange)
            earlier[step.name] = exchange.seen
            if exchange.problems:
                result.problems = [
                    Problem(f"{step.name} ({step.title}): {p.text}", p.diff)
                    for p in exchange.problems
                ]
                break
        if case.alive:
            result.problems += self._still_alive(case)
        result.status = Status.FAILED if result.problems else Status.PASSED
        return result

    def _skip_reason(self, case: Case) -> str:
        if self.options.transport not in case.transports:
            return f"the case does not apply to {self.options.transport}"
        if missing := [r for r in case.requires if r not in self.options.sut_has]:
            return f"needs an endpoint with {', '.join(missing)} (declare it with --sut-has)"
        return ""

    def _load(self, case: Case, name: str) -> bytes:
        body = case.file(name).replace(RUN_PLACEHOLDER, self.options.run_id.encode())
        if REPLY_PLACEHOLDER in body:
            body = body.replace(REPLY_PLACEHOLDER, self.listener().url.encode())
        return body

    def listener(self) -> ReplyListener:
        if self._listener is None:
            self._listener = ReplyListener(self.options.reply_listen)
        return self._listener

    def _exchange(self, case: Case, step: Step, earlier: dict[str, Observed]) -> Exchange:
        exp = step.expectation(self.options.transport)
        body = self._load(case, step.send)
        if step.generate:
            body = hostile.generate(body, step.generate, self.options.max_message_bytes)
        header = request_header(body)
        route = Route.of(
            (header.verb if header and header.verb else case.verb),
            (header.noun if header and header.noun else case.noun),
            header.element if header else None,
        )
        soap_file = step.send.removesuffix(".xml") + ".soap.xml"
        if self.options.transport == "soap" and case.has_file(soap_file):
            seen = self.transport.send(self._load(case, soap_file), route, as_is=True)
        else:
            seen = self.transport.send(body, route)
        if exp.follow_continuation and seen.message is not None:
            self._follow(body, route, seen)
        ctx = Context(case, self.options.transport, header, lambda n: self._load(case, n), earlier)
        expected = self._load(case, exp.expected) if exp.expected else None
        problems = check(exp, seen, ctx)
        if exp.async_reply is not None and not problems:
            problems = self._async_reply(exp.async_reply, exp.async_wait, ctx)
        return Exchange(step, seen, expected, problems)

    def _async_reply(self, exp: Expectation, wait: float, ctx: Context) -> list[Problem]:
        """The full reply the endpoint sends to the ReplyAddress later, checked like any."""
        request = ctx.request
        correlation = request and (request.correlation_id or request.message_id)
        if not correlation:
            return [Problem("an async reply is expected, but the request has no MessageID")]
        arrived = self.listener().wait_for(correlation, wait)
        if arrived is None:
            return [Problem(f"no reply with CorrelationID {correlation} reached the "
                            f"ReplyAddress within {wait:g} s")]  # fmt: skip
        body, message = arrived
        seen = Observed(status=200, body=body, message=message, url=self.listener().url)
        async_ctx = Context(ctx.case, "async", ctx.request, ctx.load, ctx.earlier)
        problems = check(exp, seen, async_ctx)
        return [Problem(f"asynchronous reply: {p.text}", p.diff) for p in problems]

    def _follow(self, body: bytes, route: Route, first: Observed) -> None:
        """Ask for the next page while the reply says more follow."""
        token, number = first.continuation, 1
        while token and number < MAX_PAGES:
            number += 1
            page = self.transport.send(next_page(body, token, number), route)
            first.pages.append(page)
            token = page.continuation

    def _still_alive(self, case: Case) -> list[Problem]:
        """After a hostile message the endpoint must still answer a harmless one."""
        probe = self.suite.probes.get(case.role)
        if probe is None:
            return [Problem(f"no probe.xml for role {case.role}: cannot check liveness")]
        body = probe.replace(RUN_PLACEHOLDER, self.options.run_id.encode())
        header = request_header(body)
        if header is None or not (header.verb and header.noun):
            return [Problem(f"the probe.xml of role {case.role} has no readable Verb and Noun")]
        seen = self.transport.send(body, Route.of(header.verb, header.noun, header.element))
        if seen.problem is not None or seen.message is None:
            why = seen.problem or "its answer holds no 61968-100 reply"
            return [Problem(f"the endpoint no longer answers after this case: {why}")]
        return []


def next_page(request: bytes, token: str, number: int) -> bytes:
    """The same request asking for the page after `token` (Request/Option continuation),
    with a MessageID of its own."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    root = etree.fromstring(request, parser)
    holder = child(root, "Request")
    if holder is None:
        raise ValueError("a paged request needs a Request element")
    for option in children(holder, "Option"):
        if text(option, "name") == "continuation":
            holder.remove(option)
    uri = ns.split(holder.tag)[0]
    option = etree.Element(ns.qname(uri, "Option"))
    etree.SubElement(option, ns.qname(ns.MESSAGE, "name")).text = "continuation"
    etree.SubElement(option, ns.qname(ns.MESSAGE, "value")).text = token
    before = [c for c in holder if ns.split(c.tag)[1] in ("StartTime", "EndTime", "Option")]
    holder.insert(holder.index(before[-1]) + 1 if before else 0, option)
    message_id = child(root, "Header", "MessageID")
    if message_id is not None and message_id.text:
        message_id.text = f"{message_id.text.strip()}-page{number}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
