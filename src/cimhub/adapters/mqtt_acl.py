"""What the MQTT broker needs to keep head-ends apart: a Mosquitto ``password_file`` and
an ``acl_file`` in which each head-end may publish only on its own topics.

Each MQTT head-end with a login of its own has the topic prefix
``<CIMHUB_MQTT_TOPIC_PREFIX>/<tenant>/<head-end>``: its vendor profile's topics under that
prefix are the only ones it may write (readings, events, command status) or read (its
commands). The hub's own broker user reads everything under the hub's prefix and writes
only command topics.

Passwords are hashed as in ``cimhub.domain.mqtt_login`` (Mosquitto's own format).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cimhub.adapters.profile import VendorProfile
from cimhub.domain.mqtt_login import HeadEndLogin, head_end_prefix
from cimhub.errors import InvalidValueError

#: Inbound topics a head-end writes; it reads its ``command`` topic.
WRITES = ("readings", "events", "status")


def password_file(hub_user: str, hub_hash: str, logins: Iterable[HeadEndLogin]) -> str:
    """Mosquitto's password_file: the hub's user, then every head-end's."""
    lines = [f"{hub_user}:{hub_hash}"]
    lines += [f"{login.username}:{login.password_hash}" for login in logins]
    return "\n".join(lines) + "\n"


def acl_file(
    base: str,
    hub_user: str,
    profiles: Mapping[str, VendorProfile],
    logins: Iterable[HeadEndLogin],
) -> str:
    """Mosquitto's acl_file: the hub reads all and writes commands; each head-end writes its
    own inbound topics and reads its own commands, nothing else (no anonymous access)."""
    lines = ["# written by `cimhub mqtt acl`: regenerate, do not edit", "", f"user {hub_user}"]
    lines.append(f"topic read {base}/#")
    for profile in profiles.values():
        if "command" in profile.topics:
            lines.append(f"topic write {profile.topic('command', f'{base}/+/+')}")
            lines.append(f"topic write {profile.topic('command', base)}")  # shared topics
    for login in logins:
        profile = profiles.get(login.vendor)
        if profile is None:  # endpoints name their vendor profile by its name
            raise InvalidValueError(f"head-end {login.hes}: no vendor profile {login.vendor!r}")
        prefix = head_end_prefix(base, login.tenant, login.hes)
        lines += ["", f"# head-end {login.hes} of tenant {login.tenant}", f"user {login.username}"]
        lines += [f"topic write {profile.topic(k, prefix)}" for k in WRITES if k in profile.topics]
        if "command" in profile.topics:
            lines.append(f"topic read {profile.topic('command', prefix)}")
    return "\n".join(lines) + "\n"


def broker_conf(directory: str) -> str:
    """The lines a Mosquitto listener needs to use the two files (no anonymous clients)."""
    return (
        "# include in mosquitto.conf (per listener with per_listener_settings true)\n"
        "allow_anonymous false\n"
        f"password_file {directory}/password_file\n"
        f"acl_file {directory}/acl_file\n"
    )
