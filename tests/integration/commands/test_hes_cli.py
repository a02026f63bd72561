"""`cimhub hes endpoint set|list` and `cimhub hes commands`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cimhub.cli import main


def test_endpoints_are_set_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIMHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    assert main(["hes", "endpoint", "set", "HES-A", "--kind", "soap", "--url", "http://h/cim",
                 "--tenant", "t1"]) == 0  # fmt: skip
    assert main(["hes", "endpoint", "set", "HES-B", "--kind", "mqtt", "--tenant", "t1"]) == 2
    assert main(["hes", "endpoint", "set", "HES-B", "--kind", "mqtt", "--vendor", "vendor-b",
                 "--tenant", "t1"]) == 0  # fmt: skip
    assert main(["hes", "endpoint", "set", "HES-C", "--kind", "http", "--url", "http://c/cim",
                 "--read-as", "control", "--tenant", "t1"]) == 0  # fmt: skip
    with pytest.raises(SystemExit):
        main(["hes", "endpoint", "set", "HES-C", "--kind", "http", "--url", "http://c/cim",
              "--read-as", "edc", "--tenant", "t1"])  # fmt: skip
    capsys.readouterr()
    assert main(["hes", "endpoint", "list", "--tenant", "t1"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "HES-A", "kind": "soap", "url": "http://h/cim", "vendor": None, "read_as": "get"},
        {"name": "HES-B", "kind": "mqtt", "url": "", "vendor": "vendor-b", "read_as": "get"},
        {"name": "HES-C", "kind": "http", "url": "http://c/cim", "vendor": None,
         "read_as": "control"},
    ]  # fmt: skip
    assert main(["hes", "commands", "--tenant", "t1"]) == 0
    assert capsys.readouterr().out == ""
