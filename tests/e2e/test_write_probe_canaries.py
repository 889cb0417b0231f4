"""The write probe writes only where the policy expects access: a canary is only ever read (lab on 127.0.0.1)."""

from __future__ import annotations

import pytest

from audit.demo import lab_target
from audit.lab.server import LabServer
from audit.policy import load_policy
from audit.run import collect
from audit.snapshot import ProbeOutcome

from .conftest import POLICY

pytestmark = pytest.mark.e2e


def test_a_reachable_canary_is_not_written_to() -> None:
    # extra-member: the CEO's mailbox was added to the scope group, so the canary ceo@contoso.com is reachable.
    # Its GetFolder already proves the breach (EXA051); creating an item in the CEO's calendar adds nothing and
    # is a write to a mailbox the integration must never touch.
    created: list[str] = []
    with LabServer("extra-member") as lab:
        snapshot = collect(
            [load_policy(POLICY)], lab_target(lab, probe_operation="calendarWrite"), after_create=created.append
        )
        creates = lab.stats()["ews"]["by_operation"].get("CreateItem", 0)
    (ceo,) = [p for p in snapshot.probes if p.mailbox == "ceo@contoso.com"]
    assert ceo.outcome is ProbeOutcome.ALLOWED
    assert ceo.operation == "calendarRead"
    assert "ceo@contoso.com" not in created
    assert all(p.operation == "calendarWrite" for p in snapshot.probes if p.expect == "allow")
    assert creates == len(created) == len([p for p in snapshot.probes if p.expect == "allow"])
