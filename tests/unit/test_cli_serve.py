"""`cimhub serve` listens on loopback only while there is no authentication."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.cli import _is_loopback, main


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "hub.example.in"])
def test_serve_refuses_a_non_loopback_address(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # a fresh store with no credentials, not ./cimhub.db
    monkeypatch.delenv("CIMHUB_DATABASE_URL", raising=False)
    assert main(["serve", "--host", host]) == 2
    assert "refusing to listen" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "localhost"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert _is_loopback(host)
