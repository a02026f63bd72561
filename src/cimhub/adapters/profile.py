"""Per-vendor MQTT profiles (TOML): topics, JSON field names, OBIS → ReadingType with
scalers, IS 15959 event IDs → CIM EndDeviceEventTypes, command words. Configured, not coded."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cimhub.errors import InvalidValueError


@dataclass(frozen=True, slots=True)
class ObisMapping:
    reading_type: str
    scaler: int = 0  # value × 10**scaler (IS 15959 scaler profiles)


@dataclass(frozen=True, slots=True)
class VendorProfile:
    name: str
    topics: dict[str, str]
    readings: dict[str, str]
    obis: dict[str, ObisMapping]
    events: dict[str, str]
    event_types: dict[str, str]
    commands: dict[str, str]
    command_words: dict[str, str]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def topic(self, which: str, prefix: str, meter: str = "+") -> str:
        return self.topics[which].format(prefix=prefix, meter=meter)


def load_profile(name_or_path: str) -> VendorProfile:
    """A shipped profile by name (``vendor-a``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        shipped = resources.files("cimhub.adapters") / "profiles" / f"{name_or_path}.toml"
        if not shipped.is_file():
            raise InvalidValueError(f"no MQTT vendor profile {name_or_path!r}")
        text = shipped.read_text(encoding="utf-8")
    return parse_profile(tomllib.loads(text))


def load_profiles(names: str) -> list[VendorProfile]:
    """The profiles a comma-separated list names (``CIMHUB_MQTT_VENDORS``)."""
    return [load_profile(name.strip()) for name in names.split(",") if name.strip()]


def parse_profile(data: dict[str, Any]) -> VendorProfile:
    try:
        obis = {
            code: ObisMapping(str(m["reading_type"]), int(m.get("scaler", 0)))
            for code, m in data.get("obis", {}).items()
        }
        return VendorProfile(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            topics={k: str(v) for k, v in data["topics"].items()},
            readings={k: str(v) for k, v in data.get("readings", {}).items()},
            obis=obis,
            events={k: str(v) for k, v in data.get("events", {}).items()},
            event_types={str(k): str(v) for k, v in data.get("event_types", {}).items()},
            commands={k: str(v) for k, v in data.get("commands", {}).items()},
            command_words={k: str(v) for k, v in data.get("command_words", {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValueError(f"MQTT vendor profile is incomplete: {exc}") from exc
