"""Fixtures for the lab-core tests: a running lab per test and exchangelib's protocol cache kept clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import exchangelib.protocol
import pytest

from audit.lab.server import LabServer

DATA = Path(__file__).resolve().parents[1] / "data" / "ews"


@pytest.fixture(autouse=True)
def _clean_exchangelib() -> Iterator[None]:
    # exchangelib caches one Protocol per (endpoint, credentials) for the whole process: a later Configuration's
    # max_connections or retry policy would be ignored (wire-notes B.3).
    exchangelib.protocol.CachingProtocol.clear_cache()
    yield
    exchangelib.protocol.close_connections()
    exchangelib.protocol.CachingProtocol.clear_cache()


@pytest.fixture
def compliant_lab() -> Iterator[LabServer]:
    with LabServer("compliant", basic=True) as lab:
        yield lab


@pytest.fixture
def samples_lab() -> Iterator[LabServer]:
    with LabServer(tenant_path=DATA / "tenant.yaml", basic=True) as lab:
        yield lab
