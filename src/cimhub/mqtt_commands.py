"""`cimhub mqtt login | acl`: each MQTT head-end's own broker login, and the Mosquitto
password_file and acl_file that keep every head-end to its own topics.

The hub's own broker user and password are those of ``CIMHUB_MQTT_URL``
(``mqtt://cimhub-hub:…@broker:1883``): secrets come from the environment, never from
command lines; head-ends' passwords are printed once, at issue.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cimhub.errors import CimHubError
from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    mqtt = commands.add_parser("mqtt", help="head-ends' MQTT broker logins and the broker ACL")
    actions = mqtt.add_subparsers(required=True, metavar="ACTION")
    login = actions.add_parser("login", help="issue (or rotate) a head-end's broker login")
    login.add_argument("hes", help="the MQTT head-end's name (cimhub hes endpoint set)")
    login.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    login.add_argument("--revoke", action="store_true", help="remove its login instead")
    login.set_defaults(run=_login)
    acl = actions.add_parser("acl", help="write Mosquitto's password_file and acl_file")
    acl.add_argument("--out", type=Path, required=True, help="the directory to write them to")
    acl.add_argument(
        "--owner",
        help="give the files to this user (the broker's, e.g. mosquitto: it reads "
        "them after dropping root)",
    )
    acl.set_defaults(run=_acl)


def _database(settings: Settings) -> Any:
    from cimhub.store.database import Database

    return Database.migrated(settings.database_url)


def _login(args: argparse.Namespace) -> int:
    from cimhub.security_commands import actor
    from cimhub.store.mqtt_logins import MqttLogins

    settings = Settings()
    tenant = args.tenant or settings.default_tenant
    database = _database(settings)
    try:
        with database.unit_of_work(hub=True) as uow:
            logins = MqttLogins(uow)
            if args.revoke:
                logins.revoke(tenant, args.hes, actor=actor())
            else:
                user, password = logins.issue(tenant, args.hes, actor=actor())
    except CimHubError as exc:
        print(f"cimhub: {exc.reason}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    if args.revoke:
        print(f"MQTT login of {args.hes} removed; rewrite the broker's files (cimhub mqtt acl)")
        return 0
    prefix = f"{settings.mqtt_topic_prefix}/{tenant}/{args.hes}"
    print(f"user {user}\npassword {password}")
    print(
        f"(shown once: give it to {args.hes}, which publishes under {prefix}/…; then run "
        "`cimhub mqtt acl` and reload the broker)",
        file=sys.stderr,
    )
    return 0


def _acl(args: argparse.Namespace) -> int:
    from cimhub.adapters.mqtt_acl import acl_file, broker_conf, password_file
    from cimhub.adapters.profile import load_profile
    from cimhub.domain.mqtt_login import mosquitto_hash
    from cimhub.store.mqtt_logins import MqttLogins

    settings = Settings()
    url = urlparse(settings.mqtt_url or "")
    if not url.username or not url.password:
        print(
            "cimhub: CIMHUB_MQTT_URL must name the hub's broker user and password "
            "(mqtt://user:password@host:port)",
            file=sys.stderr,
        )
        return 2
    hub_user = unquote(url.username)
    database = _database(settings)
    try:
        with database.unit_of_work(hub=True) as uow:
            logins = MqttLogins(uow).all()
        vendors = {v.strip() for v in (settings.mqtt_vendors or "").split(",") if v.strip()}
        profiles = {p.name: p for p in map(load_profile, vendors | {x.vendor for x in logins})}
        rules = acl_file(settings.mqtt_topic_prefix, hub_user, profiles, logins)
    except CimHubError as exc:
        print(f"cimhub: {exc.reason}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    secret = password_file(hub_user, mosquitto_hash(unquote(url.password)), logins)
    _write(args.out / "password_file", secret, 0o600, args.owner)
    _write(args.out / "acl_file", rules, 0o600, args.owner)
    _write(args.out / "cimhub-mosquitto.conf", broker_conf(str(args.out.resolve())))
    print(
        f"{args.out}: password_file, acl_file and cimhub-mosquitto.conf for the hub "
        f"({hub_user}) and {len(logins)} head-end(s)"
    )
    return 0


def _write(path: Path, text: str, mode: int = 0o644, owner: str | None = None) -> None:
    """Write ``text`` to ``path`` created with ``mode`` (never briefly world-readable)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(mode)
    if owner:
        shutil.chown(path, owner)
