"""The run as one self-contained HTML page an integrator can attach to a go-live certificate.

It names the system under test, the date, the cimhub version and the options; it gives
the verdict, a use-case coverage table (seed 002's use-case numbers), every case with its
result, and for each exchange the request, the expected reply, the actual reply and the
diff. No scripts, no external files: it prints and archives as it is.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from pathlib import Path

from lxml import etree

from cimhub.conformance.check import RULES
from cimhub.conformance.junit import xml_safe
from cimhub.conformance.observed import parse_untrusted
from cimhub.conformance.runner import CaseResult, Exchange, RunReport, Status

SHOWN_BYTES = 16_384
ROLES = {
    "mdm": "an MDM / integration hub (the suite plays the head-end and billing systems)",
    "hes": "a head-end system (the suite plays the MDM)",
    "subscriber": "a subscriber of outbound events (the suite delivers the events)",
}
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.n{text-align:right}
.passed{color:#17612b;font-weight:600} .failed{color:#a3141e;font-weight:600}
.skipped{color:#7a6300;font-weight:600} .none{color:#888}
.verdict{font-size:1.3em;padding:.6em 1em;border-radius:4px;margin:1em 0}
.verdict.passed{background:#e4f4e7} .verdict.failed{background:#fbe5e6}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:12px;
white-space:pre-wrap;word-break:break-all}
.diff .add{color:#17612b;background:#e4f4e7} .diff .del{color:#a3141e;background:#fbe5e6}
details{margin:.4em 0} summary{cursor:pointer} .case{margin:1em 0;padding-left:.6em;
border-left:4px solid #ccc} .case.failed{border-color:#a3141e} .case.passed{border-color:#17612b}
@media print{details{display:block} details>summary{display:none}}
"""


def html_report(report: RunReport, command: str = "") -> str:
    options = report.options
    verdict = "passed" if report.passed else "failed"
    title = f"Conformance report — {escape(options.sut_name or options.target.urls[0])}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        "<p>IEC 61968-100 / 61968-9 conformance, cimhub profile.</p>",
        f"<div class='verdict {verdict}'>{_verdict(report)}</div>",
        _run_table(report, command),
        _rules(report),
        _coverage(report),
        _case_table(report),
        "<h2>Cases in detail</h2>",
        *(_case(r) for r in report.results if r.status is not Status.SKIPPED),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_html(report: RunReport, path: Path, command: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(report, command), encoding="utf-8")


def _verdict(report: RunReport) -> str:
    word = "CONFORMS" if report.passed else "DOES NOT CONFORM"
    return (
        f"{word}: {report.count(Status.PASSED)} passed, {report.count(Status.FAILED)} failed, "
        f"{report.count(Status.SKIPPED)} skipped"
    )


def _row(*cells: str, header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _run_table(report: RunReport, command: str) -> str:
    o = report.options
    rows = [
        ("System under test", escape(o.sut_name or "(not named: use --sut-name)")),
        ("Target", "<br>".join(escape(u) for u in o.target.urls)),
        ("Role of the system", escape(f"{o.role.value}: {ROLES[o.role.value]}")),
        ("Transport", escape(o.transport)),
        ("Date (UTC)", report.started.strftime("%Y-%m-%d %H:%M:%S")),
        ("Duration", f"{report.elapsed:.1f} s"),
        ("cimhub version", escape(report.version)),
        ("Run id (in every MessageID)", escape(o.run_id)),
        ("Cases selected", escape(", ".join(o.patterns) or "all of the role")),
        ("Cases excluded", escape(", ".join(o.excludes) or "none")),
        ("Endpoint features declared", escape(", ".join(o.sut_has) or "none")),
        ("Extra paths ignored", escape(", ".join(o.ignore) or "none")),
    ]
    if command:
        rows.append(("Command", f"<code>{escape(command)}</code>"))
    return "<h2>Run</h2><table>" + "".join(_row(f"<b>{k}</b>", v) for k, v in rows) + "</table>"


def _rules(report: RunReport) -> str:
    defaults = report.suite.defaults
    items = "".join(f"<li>{escape(rule)}</li>" for rule in RULES)
    masked = escape(", ".join(defaults.get("mask", ())))
    ignored = escape(", ".join(defaults.get("ignore", ())))
    return (
        "<h2>What every exchange is checked for</h2>"
        f"<p>Besides what each case states:</p><ul>{items}</ul>"
        "<p>Expected replies are compared canonically (namespace prefixes, whitespace, time "
        "zones of instants and the spelling of decimal values do not matter). In every "
        f"comparison these may hold any value but must be present: <code>{masked}</code>; "
        f"these are left out: <code>{ignored}</code>.</p>"
    )


def _coverage(report: RunReport) -> str:
    by_use_case: dict[str, list[CaseResult]] = defaultdict(list)
    for result in report.results:
        for number in result.case.use_cases:
            by_use_case[number].append(result)
    rows = [_row("Use case", "Activity (seed 002)", "From → to", "Cases", "Passed", "Failed",
                 "Skipped", "Status", header=True)]  # fmt: skip
    for number in sorted(by_use_case, key=_number_key):
        results = by_use_case[number]
        known = report.suite.use_cases.get(number)
        counts = {s: sum(1 for r in results if r.status is s) for s in Status}
        status = (
            "failed" if counts[Status.FAILED] else "passed" if counts[Status.PASSED] else "skipped"
        )
        rows.append(
            _row(
                escape(number),
                escape(known.activity if known else "(not in the table)"),
                escape(f"{known.source} → {known.destination}" if known else ""),
                str(len(results)),
                str(counts[Status.PASSED]),
                str(counts[Status.FAILED]),
                str(counts[Status.SKIPPED]),
                f"<span class='{status}'>{status}</span>",
            )
        )
    return "<h2>Use-case coverage</h2><table>" + "".join(rows) + "</table>"


def _number_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in number.split("."))


def _case_table(report: RunReport) -> str:
    rows = [_row("Case", "Title", "Use cases", "Result", "Time", header=True)]
    for r in report.results:
        note = f" — {escape(r.skip_reason)}" if r.status is Status.SKIPPED else ""
        rows.append(
            _row(
                f"<a href='#{_anchor(r)}'>{escape(r.case.id)}</a>",
                escape(r.case.title),
                escape(", ".join(r.case.use_cases)),
                f"<span class='{r.status.value}'>{r.status.value}</span>{note}",
                f"{r.elapsed * 1000:.0f} ms",
            )
        )
    return "<h2>Cases</h2><table>" + "".join(rows) + "</table>"


def _anchor(result: CaseResult) -> str:
    return "case-" + result.case.id.replace("/", "-")


def _case(result: CaseResult) -> str:
    case = result.case
    parts = [
        f"<div class='case {result.status.value}' id='{_anchor(result)}'>",
        f"<h3>{escape(case.id)} — <span class='{result.status.value}'>"
        f"{result.status.value}</span></h3>",
        f"<p><b>{escape(case.title)}</b>. {escape(case.about)}</p>",
        f"<p>Use cases: {escape(', '.join(case.use_cases) or '—')}; tags: "
        f"{escape(', '.join(case.tags) or '—')}</p>",
    ]
    if result.problems:
        parts.append("<ul>")
        for problem in result.problems:
            parts.append(f"<li class='failed'>{escape(xml_safe(problem.text))}</li>")
            if problem.diff:
                parts.append(_diff(problem.diff))
        parts.append("</ul>")
    parts.extend(_exchange(e, open_=result.status is Status.FAILED) for e in result.exchanges)
    parts.append("</div>")
    return "\n".join(parts)


def _exchange(exchange: Exchange, *, open_: bool) -> str:
    seen = exchange.seen
    state = "failed" if exchange.problems else "passed"
    where = f"HTTP {seen.status}" if seen.status is not None else "no answer"
    summary = (
        f"<summary>{escape(exchange.step.name)}: {escape(exchange.step.title)} — "
        f"<span class='{state}'>{state}</span> ({escape(where)}, {seen.elapsed * 1000:.0f} ms, "
        f"{escape(seen.url)})</summary>"
    )
    blocks = [("Request sent", seen.sent)]
    if exchange.expected is not None:
        blocks.append(("Expected reply", exchange.expected))
    blocks.append(("Actual reply", seen.body))
    blocks.extend((f"Page {n}", page.body) for n, page in enumerate(seen.pages, 2))
    shown = "".join(f"<p><b>{escape(label)}</b></p>{_body(body)}" for label, body in blocks)
    opened = " open" if open_ and exchange.problems else ""
    return f"<details{opened}>{summary}{shown}</details>"


def _body(body: bytes) -> str:
    if not body:
        return "<p class='none'>(empty)</p>"
    note = ""
    if len(body) > SHOWN_BYTES:
        note = f"<p class='none'>(first {SHOWN_BYTES} of {len(body)} bytes)</p>"
        return note + f"<pre>{escape(xml_safe(body[:SHOWN_BYTES].decode(errors='replace')))}</pre>"
    return f"<pre>{escape(xml_safe(_pretty(body)))}</pre>"


def _pretty(body: bytes) -> str:
    """Indented XML when the hardened parser reads it; else the text as it came."""
    try:
        root = parse_untrusted(body)
    except ValueError:
        return body.decode(errors="replace")
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        kind = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f"<span class='{kind}'>{escape(xml_safe(line))}</span>" if kind else
                     escape(xml_safe(line)))  # fmt: skip
    return "<pre class='diff'>" + "\n".join(lines) + "</pre>"
