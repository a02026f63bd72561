"""A hub on each backend with a small network loaded, driven through its pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.testing.replies import ParsedReply

TENANT = "discom"
NETWORK = """code,name,level,parent_code
SS1,Substation 1,substation,
F1,Feeder 1,feeder,SS1
DT1,DT 1,dt,F1
DT2,DT 2,dt,F1
"""

Send = Callable[[bytes], ParsedReply]


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url))
    network = tmp_path / "network.csv"
    network.write_text(NETWORK)
    assert all(r.applied for r in import_files(hub.database, TENANT, [network]))
    yield hub
    hub.close()


@pytest.fixture
def answer(hub: Hub) -> Callable[[bytes], Answer]:
    return lambda raw: hub.pipeline.process(Inbound(raw, TENANT, "test"))


@pytest.fixture
def send(answer: Callable[[bytes], Answer]) -> Send:
    return lambda raw: ParsedReply.of(answer(raw).body)
