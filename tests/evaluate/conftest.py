"""Fixtures of the Exchange Online app tests (built by tests/evaluate/app_snapshot.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot
from tests.evaluate.app_snapshot import au_policy_in, exo_policy, legacy_policy_in, online_snapshot


@pytest.fixture(name="exo_policy", scope="module")
def _exo_policy() -> LoadedPolicy:
    return exo_policy()


@pytest.fixture(scope="module")
def online() -> Snapshot:
    return online_snapshot()


@pytest.fixture
def au_policy(tmp_path: Path) -> LoadedPolicy:
    return au_policy_in(tmp_path)


@pytest.fixture
def legacy_policy(tmp_path: Path) -> LoadedPolicy:
    return legacy_policy_in(tmp_path)
