"""Which assignments reach an app principal: its own, named by service principal id or by name; never another app's.

RBAC for Applications assignments name their assignee by the service principal's id; Exchange may show the name
in RoleAssigneeName only. An assignment to a different service principal (another app in the tenant) grants the
audited app nothing and must change no verdict.
"""

from __future__ import annotations

import dataclasses

from audit.policy import LoadedPolicy
from audit.snapshot import Snapshot
from tests.evaluate.app_snapshot import SP_ID, app_assignment, run

OTHER_SP = "0c1d2e3f-0000-4000-8000-00000000abcd"


def _with_assignments(online: Snapshot, *extra: object) -> Snapshot:
    kept = tuple(a for a in online.role_assignments if a.role_assignee != SP_ID)
    return dataclasses.replace(online, role_assignments=(*kept, *extra))


def test_baseline_app_assignment_passes(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert run(exo_policy, online)["EXA071"].status.value == "PASS"


def test_assignment_named_only_by_its_assignee_name_reaches(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    snapshot = _with_assignments(online, app_assignment(role_assignee="S-1-5-21-0-0-0-4242", role_assignee_name=SP_ID))
    assert run(exo_policy, snapshot)["EXA071"].status.value == "PASS"


def test_assignment_named_only_by_its_assignee_reaches(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    snapshot = _with_assignments(online, app_assignment(role_assignee=SP_ID, role_assignee_name="S-1-5-21-0-0-0-4242"))
    assert run(exo_policy, snapshot)["EXA071"].status.value == "PASS"


def test_another_apps_unscoped_assignment_changes_nothing(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    other = app_assignment(
        name=f"other-{OTHER_SP}", identity=f"other-{OTHER_SP}", role_assignee=OTHER_SP, role_assignee_name=OTHER_SP,
        recipient_write_scope="Organization", custom_resource_scope="",
    )  # fmt: skip
    before = {k: f.status for k, f in run(exo_policy, online).items()}
    after = {k: f.status for k, f in run(exo_policy, dataclasses.replace(online, role_assignments=(
        *online.role_assignments, other))).items()}  # fmt: skip
    assert after == before


def test_another_apps_assignment_alone_grants_nothing(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    other = app_assignment(role_assignee=OTHER_SP, role_assignee_name=OTHER_SP)
    assert run(exo_policy, _with_assignments(online, other))["EXA071"].status.value == "FAIL"
