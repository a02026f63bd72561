"""One exchange against its expectation → the problems found (an empty list: it conforms).

Besides what a case states, every exchange is held to RULES, the rules every reply follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lxml import etree

from cimhub.conformance import canonical
from cimhub.conformance.case import Case, Expectation, ReadingSpec, utc_text
from cimhub.conformance.observed import (
    Observed,
    Readings,
    RequestHeader,
    parse_untrusted,
    readings_of,
    request_header,
)
from cimhub.errors import SchemaValidationError
from cimhub.message import ns, schema

#: What every exchange is checked for, whatever its case says (shown in the HTML report).
RULES = (
    "The answer is a readable 61968-100 reply (or, over SOAP, a SOAP 1.1 Fault).",
    "The reply's Header/Verb is 'reply' and its Header/Noun the request's.",
    "The reply echoes the request's CorrelationID, or its MessageID when it has none "
    "(61968-100 §6.9), unless the message was refused before its header could be read (1.x).",
    "A reply in a cimhub profile namespace is valid against the profile's XSDs.",
    "Over HTTP a refused message is answered with a 4xx status, anything else with a 2xx; "
    "over SOAP 1.1 a Fault comes with HTTP 500 and a reply with 200.",
    "A paged result comes as PARTIAL pages with 0.1, the last with 0.2, each reading once.",
)


@dataclass(frozen=True, slots=True)
class Problem:
    text: str
    diff: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    """What checking one exchange needs beyond the expectation and the reply."""

    case: Case
    transport: str
    request: RequestHeader | None
    load: Callable[[str], bytes]  # a case file, placeholders filled
    earlier: dict[str, Observed]  # replies of the steps before, by step name


def check(exp: Expectation, seen: Observed, ctx: Context) -> list[Problem]:
    if seen.problem is not None:
        return [Problem(seen.problem)]
    problems = _transport_rules(exp, seen, ctx.transport)
    if seen.message is None:
        if seen.fault is None:
            problems.append(Problem("the answer holds no 61968-100 reply"))
        return problems + _outcome(exp, seen)
    problems += _envelope_rules(exp, seen, ctx) + _schema_rule(seen.message)
    if seen.pages or exp.follow_continuation:  # one page without a token is checked too
        problems += _pages(seen, exp)
    else:
        problems += _outcome(exp, seen)
    if exp.expected is not None:
        problems += _compare(ctx.load(exp.expected), seen.message, ctx.case)
    if exp.same_reply_as is not None:
        problems += _same_reply(ctx.earlier[exp.same_reply_as], seen, exp.same_reply_as)
    return problems + _readings(exp, seen, ctx)


def _transport_rules(exp: Expectation, seen: Observed, transport: str) -> list[Problem]:
    problems = []
    if transport == "soap":
        if exp.fault and seen.fault is None:
            problems.append(Problem("a SOAP Fault was expected; the answer is a reply"))
        if exp.fault is False and seen.fault is not None:
            problems.append(Problem(f"unexpected SOAP Fault: {seen.fault.string}"))
        wanted = "500" if seen.fault is not None else "200"
        if str(seen.status) != wanted:
            problems.append(
                Problem(f"HTTP {seen.status} for a SOAP {'Fault' if seen.fault else 'reply'}: "
                        f"SOAP 1.1 over HTTP answers {wanted}")
            )  # fmt: skip
    elif transport == "http":
        wanted = exp.http_status or ("4xx" if exp.result == "FAILED" else "2xx")
        if not _status_matches(seen.status, wanted):
            problems.append(Problem(f"HTTP status {seen.status}, expected {wanted}"))
    return problems


def _status_matches(status: int | None, wanted: str) -> bool:
    if status is None:
        return False
    if wanted.endswith("xx"):
        return str(status)[0] == wanted[0]
    return str(status) == wanted


def _outcome(exp: Expectation, seen: Observed) -> list[Problem]:
    problems = []
    if exp.result is not None and seen.result != exp.result:
        problems.append(Problem(f"Result {seen.result}, expected {exp.result}"))
    codes = seen.codes
    if exp.codes is not None and sorted(codes) != sorted(exp.codes):
        problems.append(Problem(f"Error codes {codes}, expected {list(exp.codes)}"))
    if exp.code_in is not None and (not codes or codes[0] not in exp.code_in):
        problems.append(Problem(f"Error codes {codes}, expected one of {list(exp.code_in)}"))
    return problems


def _expects_readable_header(exp: Expectation) -> bool:
    """Refusals of the message itself (1.x) may come before its header was read."""
    codes = exp.codes or exp.code_in or ()
    return not (exp.result == "FAILED" and any(c.startswith("1.") for c in codes))


def _envelope_rules(exp: Expectation, seen: Observed, ctx: Context) -> list[Problem]:
    problems = []
    if seen.verb != "reply":
        problems.append(Problem(f"the reply's Header/Verb is {seen.verb!r}, not 'reply'"))
    request = ctx.request
    if request is None or not _expects_readable_header(exp):
        return problems
    if request.noun and seen.noun != request.noun and not request.noun.startswith("Get"):
        problems.append(Problem(f"the reply's Header/Noun is {seen.noun!r}, not {request.noun!r}"))
    wanted = request.correlation_id or request.message_id
    check_it = exp.correlation if exp.correlation is not None else wanted is not None
    if check_it and seen.correlation_id != wanted:
        source = "CorrelationID" if request.correlation_id else "MessageID"
        problems.append(
            Problem(
                f"the reply's Header/CorrelationID is {seen.correlation_id!r}; it must echo "
                f"the request's {source} {wanted!r} (61968-100 §6.9)"
            )
        )
    return problems


def _schema_rule(message: etree._Element) -> list[Problem]:
    """A reply in a namespace of the cimhub profile must be valid against its XSDs."""
    if ns.split(message.tag)[0] not in schema.known_namespaces():
        return []
    try:
        schema.validate(message)
    except SchemaValidationError as exc:
        return [Problem(f"the reply is not valid against the cimhub XSD profiles: {exc.reason}")]
    return []


def _compare(expected: bytes, actual: etree._Element, case: Case) -> list[Problem]:
    want = canonical.canonical(parse_untrusted(expected), case.mask, case.ignore)
    got = canonical.canonical(actual, case.mask, case.ignore)
    delta = canonical.diff(want, got)
    return [Problem("the reply differs from the expected reply", delta)] if delta else []


def _same_reply(first: Observed, seen: Observed, name: str) -> list[Problem]:
    if first.message is None:
        return [Problem(f"step {name} has no reply to compare with")]
    delta = canonical.diff(canonical.canonical(first.message), canonical.canonical(seen.message))
    if delta:
        return [Problem(f"the reply is not the original reply of step {name}", delta)]
    return []


def _pages(seen: Observed, exp: Expectation) -> list[Problem]:
    pages = [seen, *seen.pages]
    problems = []
    if len(pages) < exp.min_pages:
        problems.append(
            Problem(f"{len(pages)} page(s), expected at least {exp.min_pages}: the endpoint "
                    f"did not page this result (is its page size below the result's size?)")
        )  # fmt: skip
    for number, page in enumerate(pages, 1):
        last = number == len(pages)
        wanted = ("OK", ["0.0"]) if len(pages) == 1 else ("PARTIAL", ["0.2" if last else "0.1"])
        if page.problem:
            problems.append(Problem(f"page {number}: {page.problem}"))
            continue
        request = request_header(page.sent)
        wanted_id = request and (request.correlation_id or request.message_id)
        if number > 1 and wanted_id and page.correlation_id != wanted_id:
            problems.append(
                Problem(f"page {number}: Header/CorrelationID {page.correlation_id!r} does not "
                        f"echo the page request's {wanted_id!r}")
            )  # fmt: skip
        if (page.result, page.codes) != wanted:
            problems.append(
                Problem(f"page {number} of {len(pages)}: {page.result} {page.codes}, "
                        f"expected {wanted[0]} {wanted[1]}")
            )  # fmt: skip
    return problems


def _readings(exp: Expectation, seen: Observed, ctx: Context) -> list[Problem]:
    if not (exp.readings or exp.readings_of or exp.absent or exp.series or exp.exact_readings):
        return []
    got = readings_of(seen.message)
    for page in seen.pages:
        got.merge(readings_of(page.message))
    problems = [
        Problem(f"reading {m}/{t}/{utc_text(at)} came {n + 1} times (on more than one page)")
        for (m, t, at), n in got.repeated.items()
    ]
    wanted = list(exp.readings)
    for name in exp.readings_of:
        sent = readings_of(parse_untrusted(ctx.load(name)))
        wanted += [ReadingSpec(m, t, at, v) for (m, t, at), v in sent.values.items()]
    matched: set[tuple[str, str, int]] = set()
    missing = []
    for spec in wanted:
        hits = _find(got, spec)
        matched.update(hits)
        if not hits:
            missing.append(spec.describe())
    if missing:
        problems.append(Problem(f"{len(missing)} reading(s) missing: {_few(missing)}"))
    if present := [s.describe() for s in exp.absent if _find(got, s)]:
        problems.append(Problem(f"{len(present)} reading(s) present that must not be: "
                                f"{_few(present)}"))  # fmt: skip
    if exp.exact_readings and (extra := sorted(set(got.values) - matched)):
        shown = [f"{m}/{t}/{utc_text(at)}" for m, t, at in extra]
        problems.append(Problem(f"{len(extra)} reading(s) not expected: {_few(shown)}"))
    for series in exp.series:
        count = sum(
            1
            for (m, t, at) in got.values
            if t == series.reading_type
            and series.start < at <= series.end
            and got.meter_matches(m, series.meter)
        )
        if count != series.count:
            problems.append(
                Problem(f"{count} readings of {series.meter}/{series.reading_type} in "
                        f"({utc_text(series.start)}, {utc_text(series.end)}], "
                        f"expected {series.count}")
            )  # fmt: skip
    return problems


def _find(got: Readings, spec: ReadingSpec) -> list[tuple[str, str, int]]:
    return [
        key
        for key, value in got.values.items()
        if got.meter_matches(key[0], spec.meter)
        and (spec.reading_type is None or key[1] == spec.reading_type)
        and (spec.at is None or key[2] == spec.at)
        and (spec.value is None or abs(value - spec.value) <= 1e-9 * max(1.0, abs(spec.value)))
        and spec.qualities <= got.qualities.get(key, frozenset())
    ]


def _few(items: Sequence[object], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")
