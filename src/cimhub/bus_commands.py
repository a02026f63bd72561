"""The bus's `cimhub` commands: `worker` and `dlq list|show|replay` (dead letters of the bus,
and MQTT vendor payloads that did not fit their profile)."""

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
    _tenant_option(listing)
    listing.set_defaults(run=_dlq_list)
    show = actions.add_parser("show", help="one dead letter: reason, headers, body")
    show.add_argument("id", type=int)
    _tenant_option(show)
    show.set_defaults(run=_dlq_show)
    replay = actions.add_parser(
        "replay",
        help="send dead letters back to their queue (MQTT ones: through the profile), once",
    )
    replay.add_argument("ids", type=int, nargs="*", help="ids (default: every one not replayed)")
    replay.add_argument("--force", action="store_true", help="replay even if replayed before")
    _tenant_option(replay)
    replay.set_defaults(run=_dlq_replay)


def _worker(args: argparse.Namespace) -> int:
    from cimhub.app import Hub
    from cimhub.heap import settle

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
    settle()
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


def _tenant_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant", help="only this tenant's dead letters (default: every tenant's and the hub's)"
    )


def _when(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else "-"


def _dlq_list(args: argparse.Namespace) -> int:
    from cimhub.bus.dead_letter import list_letters

    with _database() as database, _refusing() as refused:
        letters = list_letters(database, include_replayed=args.all, tenant=args.tenant)
    if refused:
        return 1
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

    with _database() as database, _refusing() as refused:
        letter = get_letter(database, args.id, tenant=args.tenant)
    if refused:
        return 1
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
    """Bus letters go back to their queue through the outbox; MQTT letters are translated
    with today's vendor profiles and processed here. Each replay is audited."""
    from cimhub.bus.dead_letter import list_letters
    from cimhub.security_commands import actor

    who, sent, refused = actor(), 0, 0
    with _database() as database, _refusing() as unknown:
        ids = args.ids or [letter.id for letter in list_letters(database, tenant=args.tenant)]
    if unknown:
        return 1
    with _database() as database:
        mqtt = _MqttReplays(database, who, args.tenant)
        try:
            for letter_id in ids:
                if mqtt.takes(letter_id):
                    outcome, detail = mqtt.replay(letter_id, force=args.force)
                else:
                    outcome, detail = _replayed(database, letter_id, args, who)
                sent, refused = sent + (outcome == "replayed"), refused + (outcome == "refused")
                print(f"{letter_id}: {_WORDS[outcome]} {detail}".rstrip())
        finally:
            mqtt.close()
    print(f"{sent} of {len(ids)} replayed")
    return 1 if refused else 0


def _replayed(database: Any, letter_id: int, args: argparse.Namespace, who: str) -> tuple[str, str]:
    from cimhub.bus.dead_letter import replay
    from cimhub.errors import UnknownObjectError

    try:
        done = replay(database, letter_id, force=args.force, actor=who, tenant=args.tenant)
    except UnknownObjectError as exc:  # not there, or another tenant's than --tenant's
        return "refused", exc.reason
    return ("replayed", "") if done else ("already", "")


@contextmanager
def _refusing() -> Iterator[list[str]]:
    """Report an unknown ``--tenant`` (or letter) on stderr instead of a traceback."""
    from cimhub.errors import UnknownObjectError

    refused: list[str] = []
    try:
        yield refused
    except UnknownObjectError as exc:
        refused.append(exc.reason)
        print(exc.reason, file=sys.stderr)


_WORDS = {"replayed": "replayed", "already": "already replayed (use --force to send it again)",
          "refused": "not replayed:"}  # fmt: skip


class _MqttReplays:
    """MQTT dead letters, replayed through a hub's pipeline built on first need."""

    def __init__(self, database: Any, actor: str, tenant: str | None) -> None:
        self.database, self.actor, self.tenant, self.hub = database, actor, tenant, None

    def takes(self, letter_id: int) -> bool:
        from cimhub.adapters.mqtt_dead_letter import is_mqtt
        from cimhub.bus.dead_letter import get_letter

        letter = get_letter(self.database, letter_id, tenant=self.tenant)
        return letter is not None and is_mqtt(letter)

    def replay(self, letter_id: int, *, force: bool) -> tuple[str, str]:
        from cimhub.adapters.mqtt_dead_letter import replay
        from cimhub.adapters.profile import load_profiles
        from cimhub.app import Hub

        settings = Settings()
        if not settings.mqtt_vendors:
            return "refused", "CIMHUB_MQTT_VENDORS names no vendor profile to translate with"
        if self.hub is None:
            self.hub = Hub.build(settings, serve=False)
        done = replay(
            self.hub.database, self.hub.pipeline, load_profiles(settings.mqtt_vendors),
            prefix=settings.mqtt_topic_prefix, letter_id=letter_id, actor=self.actor,
            default_tenant=settings.default_tenant, force=force,
        )  # fmt: skip
        return done.outcome, done.detail

    def close(self) -> None:
        if self.hub is not None:
            self.hub.close()
