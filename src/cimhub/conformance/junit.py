"""The run as JUnit XML, for CI servers: one testcase per case, failures with their diffs."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from cimhub.conformance.runner import RunReport, Status

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text an XML document can hold (replies from a broken endpoint may not be)."""
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(report: RunReport) -> bytes:
    options = report.options
    suite = etree.Element(
        "testsuite",
        name=f"cimhub conformance: {options.role.value} over {options.transport}",
        tests=str(len(report.results)),
        failures=str(report.count(Status.FAILED)),
        errors="0",
        skipped=str(report.count(Status.SKIPPED)),
        time=f"{report.elapsed:.3f}",
        timestamp=report.started.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    properties = etree.SubElement(suite, "properties")
    for name, value in (
        ("target", " ".join(options.target.urls)),
        ("sut", options.sut_name),
        ("role", options.role.value),
        ("transport", options.transport),
        ("cimhub.version", report.version),
        ("run", options.run_id),
    ):
        etree.SubElement(properties, "property", name=name, value=value)
    for result in report.results:
        case = result.case
        testcase = etree.SubElement(
            suite,
            "testcase",
            classname=".".join((case.role.value, case.noun, case.verb)),
            name=case.slug,
            time=f"{result.elapsed:.3f}",
        )
        if result.status is Status.SKIPPED:
            etree.SubElement(testcase, "skipped", message=xml_safe(result.skip_reason))
        elif result.status is Status.FAILED:
            first = xml_safe(result.problems[0].text)
            failure = etree.SubElement(testcase, "failure", message=first)
            failure.text = xml_safe(
                "\n\n".join(p.text + ("\n" + p.diff if p.diff else "") for p in result.problems)
            )
    return etree.tostring(suite, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_junit(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(report))
