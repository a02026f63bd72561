"""`cimhub conformance list|run`, as an integrator types them (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from cimhub.conformance.fake import Breakage
from cimhub.conformance.fake_hes import FakeHes


def cimhub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cimhub.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_list_shows_the_cases_of_a_role() -> None:
    listed = cimhub("conformance", "list", "--role", "hes")

    assert listed.returncode == 0, listed.stderr
    assert "hes/EndDeviceControls/create/001-remote-disconnect" in listed.stdout
    assert "mdm/" not in listed.stdout
    assert listed.stdout.rstrip().endswith("10 case(s)")


def test_run_writes_junit_and_html_and_exits_0_when_everything_passes(tmp_path: Path) -> None:
    with FakeHes().serve() as base:
        run = cimhub(
            "conformance", "run", "--target", f"{base}/cim", "--role", "hes",
            "--junit", tmp_path / "junit.xml", "--html", tmp_path / "report.html",
            "--sut-name", "Fake HES 1.0", "--header", "X-Api-Key: secret-key",
        )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS  hes/EndDeviceControls/create/001-remote-disconnect" in run.stdout
    assert "CONFORMS: 10 passed, 0 failed, 0 skipped" in run.stdout
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("10", "0")
    html = (tmp_path / "report.html").read_text()
    assert "Fake HES 1.0" in html and "CONFORMS" in html
    assert "<td>21.1</td>" in html and "Requesting instantaneous" in html  # coverage table
    assert "secret-key" not in html


def test_run_exits_1_and_reports_the_failures(tmp_path: Path) -> None:
    broken = FakeHes(Breakage(swap_codes={"2.15": "2.32"}))
    with broken.serve() as base:
        run = cimhub(
            "conformance", "run", "--target", f"{base}/soap", "--transport", "soap",
            "--role", "hes", "--junit", tmp_path / "junit.xml", "--html", tmp_path / "r.html",
        )  # fmt: skip

    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL  hes/MeterReadings/get/301-unknown-meter" in run.stdout
    assert "DOES NOT CONFORM: 7 passed, 3 failed" in run.stdout
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    failures = junit.findall("testcase/failure")
    assert len(failures) == 3 and all("2.32" in f.get("message") for f in failures)
    html = (tmp_path / "r.html").read_text()
    assert "DOES NOT CONFORM" in html and "<span class='del'>" in html  # a diff is shown


def test_an_unreachable_amqp_broker_is_a_usage_error_naming_it() -> None:
    run = cimhub("conformance", "run", "--target", "amqp://guest:guest@127.0.0.1:9/x#q",
                 "--role", "mdm", "--transport", "amqp")  # fmt: skip

    assert run.returncode == 2
    assert "cannot connect to amqp://guest:***@127.0.0.1:9/x#q" in run.stderr


def test_amqp_targets_name_the_vhost_and_the_queue() -> None:
    from cimhub.conformance.transport import TransportUnavailable, amqp_target

    assert amqp_target("amqp://h:5672/v#in.q", None, None) == ("amqp://h:5672/v", "in.q")
    with_user = ("amqp://hes%20a:p%40ss@h/v", "cimhub.inbound")
    assert amqp_target("amqp://h/v", "hes a", "p@ss") == with_user
    assert amqp_target("amqp://u:p@h/v", "other", "x") == ("amqp://u:p@h/v", "cimhub.inbound")
    with pytest.raises(TransportUnavailable):
        amqp_target("http://h/cim", None, None)


def test_a_selection_matching_nothing_is_a_usage_error() -> None:
    run = cimhub("conformance", "run", "--target", "http://127.0.0.1:9/cim", "--role", "mdm",
                 "--case", "no-such-case")  # fmt: skip

    assert run.returncode == 2
    assert "no case matches" in run.stderr
