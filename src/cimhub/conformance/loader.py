"""Case folders → Case objects: `cases/<role>/<Noun>/<verb>/<NNN-slug>/case.toml` and files.

The packaged cases load through importlib.resources, so an installed cimhub runs the
suite without the source tree; `--cases DIR` adds an integrator's own folder of the same
shape.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from cimhub.conformance.case import (
    REPLY_PLACEHOLDER,
    RUN_PLACEHOLDER,
    TRANSPORTS,
    Case,
    CaseError,
    Expectation,
    ReadingSpec,
    Role,
    SeriesSpec,
    Step,
)
from cimhub.conformance.hostile import GENERATORS
from cimhub.conformance.observed import parse_untrusted

RESULTS = ("OK", "PARTIAL", "FAILED")
_SLUG = re.compile(r"^\d{3}-[a-z0-9][a-z0-9-]*$")
_CODE = re.compile(r"^\d+\.\d+$")
_STATUS = re.compile(r"^[1-5](\d\d|xx)$")

_CASE_KEYS = {
    "title", "about", "use_cases", "tags", "transports", "requires", "mask", "ignore",
    "alive", "send", "generate", "expect", "setup", "then",
}  # fmt: skip
_STEP_KEYS = {"title", "send", "generate"}
_EXPECT_KEYS = {
    "result", "codes", "code_in", "http_status", "fault", "expected", "same_reply_as",
    "correlation", "readings", "readings_of", "absent", "exact_readings", "series",
    "follow_continuation", "min_pages", "async_reply", "async_wait",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class UseCase:
    """A row of seed 002's use-case table."""

    number: str
    activity: str
    source: str
    destination: str


@dataclass(frozen=True, slots=True)
class Suite:
    """Every case found, the masks all cases share, the use-case table, the probes."""

    cases: tuple[Case, ...]
    use_cases: dict[str, UseCase]
    probes: dict[Role, bytes] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # defaults.toml: mask, ignore

    def for_role(self, role: Role) -> list[Case]:
        return [c for c in self.cases if c.role is role]


def packaged_cases() -> Traversable:
    return resources.files("cimhub.conformance") / "cases"


def load_cases(*roots: Traversable) -> Suite:
    """Read the packaged cases and every extra root; a broken case raises CaseError."""
    base = packaged_cases()
    defaults = _toml(base / "defaults.toml", "defaults.toml")
    use_cases = _use_cases(base / "use_cases.toml")
    cases: dict[str, Case] = {}
    probes: dict[Role, bytes] = {}
    for root in (base, *roots):
        extra = root / "use_cases.toml"
        if root is not base and extra.is_file():
            use_cases.update(_use_cases(extra))
        for role in Role:
            if (probe := root / role.value / "probe.xml").is_file():
                probes[role] = probe.read_bytes()
        for case in _cases_under(root, defaults):
            if case.id in cases and root is not base:
                raise CaseError(case.id, "a case with this id is already packaged with cimhub")
            cases[case.id] = case
    ordered = tuple(sorted(cases.values(), key=lambda c: c.id))
    return Suite(ordered, use_cases, probes, defaults)


def _cases_under(root: Traversable, defaults: dict[str, Any]) -> Iterator[Case]:
    for role in Role:
        for noun in _dirs(root / role.value):
            for verb in _dirs(noun):
                for folder in _dirs(verb):
                    if (folder / "case.toml").is_file():
                        yield read_case(folder, role, noun.name, verb.name, defaults)


def _dirs(entry: Traversable) -> list[Traversable]:
    if not entry.is_dir():
        return []
    return sorted((e for e in entry.iterdir() if e.is_dir()), key=lambda e: e.name)


def _toml(entry: Traversable, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(entry.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(where, f"not valid TOML: {exc}") from exc


def _use_cases(entry: Traversable) -> dict[str, UseCase]:
    table = _toml(entry, entry.name)
    return {
        number: UseCase(number, row["activity"], row["source"], row["destination"])
        for number, row in table.items()
    }


def read_case(
    folder: Traversable, role: Role, noun: str, verb: str, defaults: dict[str, Any]
) -> Case:
    """One case folder → Case, checking every key and every file it names."""
    case_id = f"{role.value}/{noun}/{verb}/{folder.name}"
    if not _SLUG.match(folder.name):
        raise CaseError(case_id, "the folder name must be NNN-slug (three digits, lower-case)")
    spec = _toml(folder / "case.toml", f"{case_id}/case.toml")
    _only(spec, _CASE_KEYS, case_id)
    if not isinstance(spec.get("title"), str):
        raise CaseError(case_id, "case.toml needs a title")
    transports = tuple(spec.get("transports", TRANSPORTS))
    if unknown := set(transports) - set(TRANSPORTS):
        raise CaseError(case_id, f"unknown transports {sorted(unknown)}")
    steps = _steps(spec, folder, case_id)
    tags = tuple(spec.get("tags", ()))
    return Case(
        id=case_id,
        role=role,
        noun=noun,
        verb=verb,
        slug=folder.name,
        folder=folder,
        title=spec["title"],
        about=spec.get("about", "").strip(),
        use_cases=tuple(str(u) for u in spec.get("use_cases", ())),
        tags=tags,
        transports=transports,
        requires=tuple(spec.get("requires", ())),
        mask=tuple(defaults.get("mask", ())) + tuple(spec.get("mask", ())),
        ignore=tuple(defaults.get("ignore", ())) + tuple(spec.get("ignore", ())),
        alive=bool(spec.get("alive", "hostile" in tags)),
        steps=steps,
    )


def _steps(spec: dict[str, Any], folder: Traversable, case_id: str) -> tuple[Step, ...]:
    main = dict(spec.get("expect", {}))
    main.setdefault("title", "the case's request")
    main["send"] = spec.get("send", "request.xml")
    if "generate" in spec:
        main["generate"] = spec["generate"]
    if "expected" not in main and (folder / "expected.xml").is_file():
        main["expected"] = "expected.xml"
    tables = [(f"setup-{i}", t) for i, t in enumerate(spec.get("setup", ()), 1)]
    tables.append(("request", main))
    tables += [(f"then-{i}", t) for i, t in enumerate(spec.get("then", ()), 1)]
    steps: list[Step] = []
    for name, table in tables:
        steps.append(_step(name, table, folder, f"{case_id} [{name}]", [s.name for s in steps]))
    return tuple(steps)


def _step(
    name: str, table: dict[str, Any], folder: Traversable, where: str, earlier: list[str]
) -> Step:
    _only(table, _STEP_KEYS | _EXPECT_KEYS | set(TRANSPORTS), where)
    send, generate = table.get("send"), table.get("generate")
    if send is None:
        raise CaseError(where, "a step needs the file it sends (send)")
    _exists(folder, send, where)
    if generate is not None and generate.get("kind") not in GENERATORS:
        raise CaseError(where, f"generate.kind must be one of {sorted(GENERATORS)}")
    base = {k: v for k, v in table.items() if k in _EXPECT_KEYS}
    expect = _expectation(base, folder, where, earlier)
    per_transport = {
        t: _expectation({**base, **table[t]}, folder, f"{where} [{t}]", earlier)
        for t in TRANSPORTS
        if t in table
    }
    return Step(name, table.get("title", name), send, generate, expect, per_transport)


def _expectation(
    table: dict[str, Any], folder: Traversable, where: str, earlier: list[str]
) -> Expectation:
    _only(table, _EXPECT_KEYS, where)
    result = table.get("result")
    if result is not None and result not in RESULTS:
        raise CaseError(where, f"result must be one of {RESULTS}, not {result!r}")
    for key in ("codes", "code_in"):
        for code in table.get(key, ()):
            if not _CODE.match(str(code)):
                raise CaseError(where, f"{key}: {code!r} is not a <category>.<number> code")
    status = str(table["http_status"]) if "http_status" in table else None
    if status is not None and not _STATUS.match(status):
        raise CaseError(where, f"http_status {status!r} is not like 200, 413 or 4xx")
    for name in (table.get("expected"), *table.get("readings_of", ())):
        if name is not None:
            _exists(folder, name, where)
            _readable(folder, name, where)
    if (same := table.get("same_reply_as")) is not None and same not in earlier:
        raise CaseError(where, f"same_reply_as names {same!r}, not an earlier step {earlier}")
    async_reply = None
    if "async_reply" in table:
        nested = table["async_reply"]
        if not isinstance(nested, dict) or {"async_reply", "follow_continuation"} & set(nested):
            raise CaseError(where, "async_reply is a table of reply expectations")
        async_reply = _expectation(nested, folder, f"{where} [async_reply]", earlier)
    return Expectation(
        result=result,
        codes=_strings(table, "codes"),
        code_in=_strings(table, "code_in"),
        http_status=status,
        fault=table.get("fault"),
        expected=table.get("expected"),
        same_reply_as=same,
        correlation=table.get("correlation"),
        readings=tuple(_reading(r, where) for r in table.get("readings", ())),
        readings_of=tuple(table.get("readings_of", ())),
        absent=tuple(_reading(r, where) for r in table.get("absent", ())),
        exact_readings=bool(table.get("exact_readings", False)),
        series=tuple(_series(s, where) for s in table.get("series", ())),
        follow_continuation=bool(table.get("follow_continuation", False)),
        min_pages=int(table.get("min_pages", 1)),
        async_reply=async_reply,
        async_wait=float(table.get("async_wait", 30.0)),
    )


def _strings(table: dict[str, Any], key: str) -> tuple[str, ...] | None:
    return tuple(str(v) for v in table[key]) if key in table else None


def _reading(row: dict[str, Any], where: str) -> ReadingSpec:
    _only(row, {"meter", "type", "at", "value", "qualities"}, f"{where} reading")
    if "meter" not in row:
        raise CaseError(where, f"a reading needs a meter: {row}")
    value = row.get("value")
    return ReadingSpec(
        meter=str(row["meter"]),
        reading_type=row.get("type"),
        at=_epoch(row["at"], where) if "at" in row else None,
        value=float(value) if value is not None else None,
        qualities=frozenset(row.get("qualities", ())),
    )


def _series(row: dict[str, Any], where: str) -> SeriesSpec:
    _only(row, {"meter", "type", "start", "end", "count"}, f"{where} series")
    try:
        return SeriesSpec(
            str(row["meter"]),
            str(row["type"]),
            _epoch(row["start"], where),
            _epoch(row["end"], where),
            int(row["count"]),
        )
    except KeyError as exc:
        raise CaseError(where, f"a series needs meter, type, start, end and count: {row}") from exc


def _epoch(value: Any, where: str) -> int:
    """A TOML datetime or an ISO text with a zone → UTC epoch seconds."""
    moment = value if isinstance(value, datetime) else None
    if moment is None:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise CaseError(where, f"{value!r} is not a date-time") from exc
    if moment.tzinfo is None:
        raise CaseError(where, f"{value!r} has no time zone")
    return int(moment.timestamp())


def _exists(folder: Traversable, name: str, where: str) -> None:
    if "/" in name or "\\" in name or not (folder / name).is_file():
        raise CaseError(where, f"names {name!r}, which is not a file in the case folder")


def _readable(folder: Traversable, name: str, where: str) -> None:
    """Files the runner reads as XML (expected replies, readings) must be well-formed."""
    try:
        raw = (folder / name).read_bytes().replace(RUN_PLACEHOLDER, b"run")
        parse_untrusted(raw.replace(REPLY_PLACEHOLDER, b"http://127.0.0.1/replies"))
    except ValueError as exc:
        raise CaseError(where, f"{name} is not readable XML: {exc}") from exc


def _only(table: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    if unknown := set(table) - set(allowed):
        raise CaseError(where, f"unknown keys {sorted(unknown)}")
