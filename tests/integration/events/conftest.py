"""Events, outages and exceptions on both backends: a DISCOM's master data (one DT of ten
consumers) on the hub of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.imports.csv_import import import_files
from cimhub.testing.masterdata import write_discom

TENANT = "t1"


@pytest.fixture
def discom(hub: Hub, tmp_path: Path) -> Hub:
    """DT0 with ten consumers, meters SM0000000 … SM0000009."""
    reports = import_files(hub.database, TENANT, write_discom(tmp_path, 10))
    assert all(r.applied for r in reports)
    return hub
