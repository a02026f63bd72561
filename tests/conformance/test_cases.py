"""The packaged cases are well-formed data, and the loader says clearly when one is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.conformance.case import RUN_PLACEHOLDER, CaseError, Role
from cimhub.conformance.hostile import generate
from cimhub.conformance.loader import Suite, load_cases, packaged_cases
from cimhub.conformance.observed import parse_untrusted, request_header
from cimhub.conformance.runner import next_page
from cimhub.conformance.transport import Route
from cimhub.handlers.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_role_has_cases_and_a_probe(suite: Suite) -> None:
    assert {c.role for c in suite.cases} == set(Role)
    assert set(suite.probes) == set(Role)
    assert len(suite.for_role(Role.MDM)) >= 50


def test_every_use_case_cited_is_in_the_seed_table(suite: Suite) -> None:
    cited = {u for case in suite.cases for u in case.use_cases}
    assert cited <= set(suite.use_cases), cited - set(suite.use_cases)
    assert {"1.3", "2.4", "3.3", "4.2", "6.3", "12.3", "21.1"} <= cited


def test_every_file_in_a_case_folder_is_used(suite: Suite) -> None:
    for case in suite.cases:
        used = {"case.toml"}
        for step in case.steps:
            used.add(step.send)
            for exp in (step.expect, *step.per_transport.values()):
                used.update(exp.readings_of)
                used.update(n for n in (exp.expected,) if n)
            soap = step.send.removesuffix(".xml") + ".soap.xml"
            used.update({soap} if case.has_file(soap) else set())
        present = {e.name for e in case.folder.iterdir()}
        assert present == used, f"{case.id}: unused {present - used}, missing {used - present}"


def test_every_case_sends_the_message_its_folder_names(suite: Suite) -> None:
    for case in suite.cases:
        main = next(s for s in case.steps if s.name == "request")
        body = case.file(main.send).replace(RUN_PLACEHOLDER, b"r")
        header = request_header(body)
        if header is None:  # not readable, on purpose: refused as a message (1.x)
            codes = main.expect.codes or main.expect.code_in or ("1.x",)
            assert main.expect.result == "FAILED" and codes[0].startswith("1."), case.id
            continue
        route = Route.of(header.verb or "", header.noun or "", header.element)
        assert (route.noun, route.verb) == (case.noun, case.verb), case.id


def test_the_mdm_cases_cover_every_meter_readings_verb_the_hub_handles(suite: Suite) -> None:
    handled = {(n, v.value) for n, v in default_registry().supported() if n == "MeterReadings"}
    covered = {(c.noun, c.verb) for c in suite.for_role(Role.MDM)}
    assert handled <= covered, handled - covered


def test_the_mdm_cases_cover_every_noun_and_verb_the_hub_handles(suite: Suite) -> None:
    handled = {(n, v.value) for n, v in default_registry().supported()}
    covered = {(c.noun, c.verb) for c in suite.for_role(Role.MDM)}
    assert handled <= covered, sorted(handled - covered)


def test_every_noun_the_hub_handles_has_positive_and_negative_mdm_cases(suite: Suite) -> None:
    nouns = {n for n, _ in default_registry().supported()}
    for noun in sorted(nouns):
        tags = {t for c in suite.for_role(Role.MDM) if c.noun == noun for t in c.tags}
        assert "positive" in tags and "negative" in tags, (noun, sorted(tags))


def test_the_top_level_conformance_cases_folder_is_the_packaged_one() -> None:
    link = ROOT / "conformance" / "cases"
    assert link.is_symlink() and link.resolve() == Path(str(packaged_cases())).resolve()


def write_case(root: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    folder = root / "mdm" / "MeterReadings" / "created" / "001-extra"
    folder.mkdir(parents=True)
    (folder / "case.toml").write_text(toml)
    for name, text in (files or {"request.xml": "<x/>"}).items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('title = "t"\ncolour = "red"', "unknown keys ['colour']"),
        ("about = 'no title'", "needs a title"),
        ('title = "t"\n[expect]\nresult = "MAYBE"', "result must be one of"),
        ('title = "t"\n[expect]\ncodes = ["E42"]', "is not a <category>.<number> code"),
        ('title = "t"\n[expect]\nexpected = "missing.xml"', "not a file in the case folder"),
        ('title = "t"\n[[then]]\nsend = "request.xml"\nsame_reply_as = "later"', "earlier step"),
        ('title = "t"\ntransports = ["mqtt"]', "unknown transports"),
    ],
)
def test_a_broken_case_names_its_folder_and_its_fault(
    tmp_path: Path, toml: str, problem: str
) -> None:
    write_case(tmp_path, toml)

    with pytest.raises(CaseError) as raised:
        load_cases(tmp_path)

    assert raised.value.where.startswith("mdm/MeterReadings/created/001-extra")
    assert problem in str(raised.value)


def test_an_integrators_folder_adds_cases(tmp_path: Path) -> None:
    write_case(tmp_path, 'title = "extra"\nuse_cases = ["1.3"]\n[expect]\nresult = "OK"')

    suite = load_cases(tmp_path)

    extra = [c for c in suite.cases if c.id == "mdm/MeterReadings/created/001-extra"]
    assert len(extra) == 1 and extra[0].steps[0].expect.result == "OK"


def test_oversize_grows_a_message_to_one_byte_past_the_limit() -> None:
    body = generate(b"<a><b>1</b></a>\n", {"kind": "oversize"}, 1000)

    assert len(body) == 1001
    assert parse_untrusted(body).findtext("b") == "1"


def test_deep_nests_elements_where_the_placeholder_stands() -> None:
    body = generate(b"<a>{{DEEP}}</a>", {"kind": "deep", "depth": 3}, 1000)

    assert body == b"<a><d><d><d></d></d></d></a>"


def test_the_next_page_asks_with_the_token_and_a_message_id_of_its_own(suite: Suite) -> None:
    case = next(c for c in suite.cases if c.id == "mdm/MeterReadings/get/202-paged-result")
    request = case.file("request.xml").replace(RUN_PLACEHOLDER, b"r1")

    page = next_page(request, "tok-1", 2)

    root = parse_untrusted(page)
    option = root.find("{*}Request/{*}Option")
    assert [c.text for c in option] == ["continuation", "tok-1"]
    assert request_header(page).message_id == "conf-r1-mr-get-202-page2"
