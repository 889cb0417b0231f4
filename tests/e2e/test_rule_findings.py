"""What the findings say for the rule scenarios, end to end (`exaudit run` against the lab, real pypsrp/exchangelib).

test_scenarios.py proves which checks fail; these prove the finding names the cause: a renamed group (not a typo),
a room mailbox by its type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.lab.server import LabServer

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def _finding(scenario: str, check: str, tmp_path: Path) -> dict[str, Any]:
    with LabServer(scenario) as lab:
        run = run_cli(lab, tmp_path)
    assert run.code == 1, run.stderr
    found: dict[str, Any] = next(f for f in run.report()["findings"] if f["checkId"] == check)
    assert found["status"].upper() == "FAIL"
    return found


def test_group_renamed_is_said_renamed_and_fixed_at_the_scope(tmp_path: Path) -> None:
    found = _finding("group-renamed", "EXA021", tmp_path)
    assert "'CN=CallPro Agenda Sync,OU=Groups,DC=contoso,DC=com' matches no group" in found["message"]
    assert "probably renamed to 'SecurityGroup-CallPro Calendar Access'" in found["message"]
    assert "typo" not in found["message"]
    assert "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access'" in found["remediation"]


def test_room_in_group_names_the_room_and_its_type(tmp_path: Path) -> None:
    found = _finding("room-in-group", "EXA035", tmp_path)
    assert (
        "Meeting Room 1 <room1@contoso.com> is a RoomMailbox, not UserMailbox (group.memberTypes)" in (found["message"])
    )
    assert "Remove-DistributionGroupMember" in found["remediation"]
