"""The console report: a line per case as it finishes, then the failures and a summary."""

from __future__ import annotations

from cimhub.conformance.runner import CaseResult, RunReport, Status

_MARK = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.SKIPPED: "SKIP"}


def line(result: CaseResult) -> str:
    """`PASS  mdm/MeterReadings/created/001-… (12 ms)`, or FAIL/SKIP with the first reason."""
    head = f"{_MARK[result.status]}  {result.case.id}"
    if result.status is Status.SKIPPED:
        return f"{head} — {result.skip_reason}"
    timing = f"({result.elapsed * 1000:.0f} ms)"
    if result.status is Status.FAILED:
        return f"{head} {timing} — {result.problems[0].text}"
    return f"{head} {timing}"


def failures(report: RunReport) -> str:
    """Every failed case with all its problems and diffs, for the end of the output."""
    blocks = []
    for result in report.results:
        if result.status is not Status.FAILED:
            continue
        lines = [f"--- {result.case.id}: {result.case.title}"]
        for problem in result.problems:
            lines.append(f"  * {problem.text}")
            lines.extend(f"    {d}" for d in problem.diff.splitlines())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary(report: RunReport) -> str:
    counts = ", ".join(
        f"{report.count(s)} {s.value}" for s in (Status.PASSED, Status.FAILED, Status.SKIPPED)
    )
    verdict = "CONFORMS" if report.passed else "DOES NOT CONFORM"
    options = report.options
    return (
        f"{verdict}: {counts} — role {options.role.value} over {options.transport} at "
        f"{', '.join(options.target.urls)} in {report.elapsed:.1f} s (run {options.run_id})"
    )
