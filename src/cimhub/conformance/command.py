"""The `cimhub conformance run|list` subcommands (argument parsing only imports argparse)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

PASSWORD_ENV = "CIMHUB_CONFORMANCE_PASSWORD"


def add_subcommand(commands: Any) -> None:
    """Add `conformance` with `run` and `list` to the cimhub command's subparsers."""
    top = commands.add_parser("conformance", help="run the conformance suite against an endpoint")
    actions = top.add_subparsers(required=True, metavar="ACTION")

    run = actions.add_parser("run", help="run the cases of a role against a target")
    run.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="URL",
        help="endpoint under test: the URL messages are POSTed to (http); a SOAP service base "
        "URL or WSDL URL(s), repeatable (soap); amqp://user:pass@host:port/vhost#queue (amqp, "
        "the queue defaults to cimhub.inbound)",
    )
    run.add_argument("--role", required=True, choices=("mdm", "hes", "subscriber"))
    run.add_argument("--transport", default="http", choices=("http", "soap", "amqp"))
    _selection(run)
    run.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    run.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report")
    run.add_argument("--user", help="HTTP basic-auth user")
    run.add_argument(
        "--password", default=os.environ.get(PASSWORD_ENV), help=f"(or set {PASSWORD_ENV})"
    )
    run.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'",
        help="a header sent with every request (e.g. an API key; over amqp an AMQP message "
        "header such as 'cimhub-tenant: discom-a'), repeatable",
    )  # fmt: skip
    run.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    run.add_argument(
        "--max-message-bytes", type=int, default=50 * 1024 * 1024,
        help="the endpoint's message size limit; the oversize case sends one byte more",
    )  # fmt: skip
    run.add_argument("--sut-name", default="", help="name of the system under test, for reports")
    run.add_argument(
        "--sut-has", action="append", default=[], metavar="FEATURE",
        help="a feature the endpoint has, enabling the cases that require it, repeatable",
    )  # fmt: skip
    run.add_argument(
        "--ignore", action="append", default=[], metavar="PATH",
        help="an extra reply path ignored in every comparison (shown in the report)",
    )  # fmt: skip
    run.add_argument("--run-id", help="token put in every MessageID (default: random)")
    run.add_argument(
        "--reply-listen", default="127.0.0.1:0", metavar="HOST:PORT",
        help="where the runner receives asynchronous replies (the ReplyAddress it sends: "
        "http://HOST:PORT/cimhub-conformance/replies); the endpoint must reach it",
    )  # fmt: skip
    run.set_defaults(run=_run)

    listing = actions.add_parser("list", help="show the cases")
    listing.add_argument("--role", choices=("mdm", "hes", "subscriber"))
    _selection(listing)
    listing.set_defaults(run=_list)


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--case", action="append", default=[], metavar="PATTERN",
        help="run only cases whose id matches (glob, substring or tag), repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN",
        help="leave out cases whose id matches (glob, substring or tag), repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--cases", action="append", default=[], type=Path, metavar="DIR",
        help="a folder of extra cases (same layout as the packaged ones), repeatable",
    )  # fmt: skip


def _headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"--header {value!r}: expected 'Name: value'")
        headers[name.strip()] = content.strip()
    return headers


def _run(args: argparse.Namespace) -> int:
    from cimhub.conformance import report
    from cimhub.conformance.case import CaseError, Role
    from cimhub.conformance.html import write_html
    from cimhub.conformance.junit import write_junit
    from cimhub.conformance.loader import load_cases
    from cimhub.conformance.runner import Options, Runner, select
    from cimhub.conformance.transport import Target, TransportUnavailable

    target = Target(
        tuple(args.target), args.user, args.password, _headers(args.header), args.timeout
    )
    options = Options(
        role=Role(args.role),
        transport=args.transport,
        target=target,
        patterns=tuple(args.case),
        excludes=tuple(args.exclude),
        sut_has=tuple(args.sut_has),
        ignore=tuple(args.ignore),
        max_message_bytes=args.max_message_bytes,
        sut_name=args.sut_name,
        reply_listen=args.reply_listen,
        **({"run_id": args.run_id} if args.run_id else {}),
    )
    try:
        suite = load_cases(*args.cases)
        if not select(suite.for_role(options.role), options.patterns, options.excludes):
            print("no case matches the selection", file=sys.stderr)
            return 2
        runner = Runner(suite, options, on_result=lambda r: print(report.line(r), flush=True))
    except (CaseError, TransportUnavailable) as exc:
        print(f"cimhub conformance: {exc}", file=sys.stderr)
        return 2
    result = runner.run()
    if details := report.failures(result):
        print("\n" + details)
    print("\n" + report.summary(result))
    command = _command_line(args)
    if args.junit:
        write_junit(result, args.junit)
        print(f"JUnit XML: {args.junit}")
    if args.html:
        write_html(result, args.html, command)
        print(f"HTML report: {args.html}")
    return 0 if result.passed else 1


def _command_line(args: argparse.Namespace) -> str:
    """The run's command line for the report, rebuilt from its options (no password)."""
    words = ["cimhub", "conformance", "run", "--role", args.role, "--transport", args.transport]
    for flag, values in (
        ("--target", args.target), ("--case", args.case), ("--exclude", args.exclude),
        ("--cases", args.cases), ("--sut-has", args.sut_has), ("--ignore", args.ignore),
    ):  # fmt: skip
        for value in values:
            words += [flag, str(value)]
    if args.user:
        words += ["--user", args.user, "--password", "***"]
    words += ["--max-message-bytes", str(args.max_message_bytes)]
    return shlex.join(words)


def _list(args: argparse.Namespace) -> int:
    from cimhub.conformance.case import CaseError, Role
    from cimhub.conformance.loader import load_cases
    from cimhub.conformance.runner import select

    try:
        suite = load_cases(*args.cases)
    except CaseError as exc:
        print(f"cimhub conformance: {exc}", file=sys.stderr)
        return 2
    cases = suite.for_role(Role(args.role)) if args.role else list(suite.cases)
    shown = select(cases, args.case, args.exclude)
    for case in shown:
        use_cases = ",".join(case.use_cases) or "-"
        tags = f"  [{', '.join(case.tags)}]" if case.tags else ""
        print(f"{case.id:<64} UC {use_cases:<9} {case.title}{tags}")
    print(f"\n{len(shown)} case(s)")
    return 0
