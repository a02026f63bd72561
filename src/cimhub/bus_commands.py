"""The bus's `cimhub` commands: `worker` and `dlq list|show|replay`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cimhub.settings import Settings

log = logging.getLogger("cimhub.worker")


def add_commands(commands: Any) -> None:
    """Register the commands on the top-level subparsers of `cimhub`."""
    worker = commands.add_parser(
        "worker", help="run handlers as a competing consumer (needs CIMHUB_BROKER_URL=amqp://…)"
    )
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    worker.set_defaults(run=_worker)

    dlq = commands.add_parser("dlq", help="dead letters: list, show, replay")
    actions = dlq.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="dead letters not yet replayed")
    listing.add_argument("--all", action="store_true", help="replayed ones too")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_dlq_list)
    show = actions.add_parser("show", help="one dead letter: reason, headers, body")
    show.add_argument("id", type=int)
    show.set_defaults(run=_dlq_show)
    replay = actions.add_parser("replay", help="send dead letters back to their queue, once")
    replay.add_argument("ids", type=int, nargs="*", help="ids (default: every one not replayed)")
    replay.add_argument("--force", action="store_true", help="replay even if replayed before")
    replay.set_defaults(run=_dlq_replay)


def _worker(args: argparse.Namespace) -> int:
    from cimhub.app import Hub

    logging.getLogger().setLevel(logging.INFO)
    settings = Settings()
    hub = Hub.build(settings, serve=False)
    assert hub.bus is not None
    if hub.bus.embedded:
        print("cimhub worker needs a broker: set CIMHUB_BROKER_URL=amqp://…", file=sys.stderr)
        hub.close()
        return 2
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=settings.host, registry=hub.bus.metrics.registry)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"cimhub worker consuming from {_safe(settings.broker_url)}", flush=True)
    try:
        hub.bus.run_worker(stop)
    finally:
        hub.close()
    return 0


def _safe(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@contextmanager
def _database() -> Iterator[Any]:
    from cimhub.store.database import Database

    database = Database(Settings().database_url)
    try:
        yield database
    finally:
        database.dispose()


def _when(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else "-"


def _dlq_list(args: argparse.Namespace) -> int:
    from cimhub.bus.dead_letter import list_letters

    with _database() as database:
        letters = list_letters(database, include_replayed=args.all)
    for letter in letters:
        if args.json:
            print(json.dumps(letter.summary()))
        else:
            print(
                f"{letter.id:>6}  {_when(letter.dead_at)}  {letter.queue:<28} "
                f"attempts={letter.attempts}  replayed={_when(letter.replayed_at)}  "
                f"{letter.reason[:80]}"
            )
    if not args.json:
        print(f"{len(letters)} dead letter(s)")
    return 0


def _dlq_show(args: argparse.Namespace) -> int:
    from cimhub.bus.dead_letter import get_letter

    with _database() as database:
        letter = get_letter(database, args.id)
    if letter is None:
        print(f"no dead letter {args.id}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {**letter.summary(), "headers": letter.headers, "properties": letter.properties},
            indent=2,
            default=str,
        )
    )
    print(letter.body.decode("utf-8", errors="replace"))
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from cimhub.bus.dead_letter import list_letters, replay

    sent = 0
    with _database() as database:
        ids = args.ids or [letter.id for letter in list_letters(database)]
        for letter_id in ids:
            if replay(database, letter_id, force=args.force):
                sent += 1
                print(f"{letter_id}: replayed")
            else:
                print(f"{letter_id}: already replayed (use --force to send it again)")
    print(f"{sent} of {len(ids)} replayed")
    return 0
