"""EXA021 recognises a group renamed under its scope: the filter's DN names no group, and one group has the
policy's members (audit.evaluate.renamed). A near name is still called a typo."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW, policy_with

OLD_DN = "CN=CallPro Agenda Sync,OU=Groups,DC=contoso,DC=com"
GROUP = "SecurityGroup-CallPro Calendar Access"


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


def _exa021(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == "EXA021")


def _filter(snap: Snapshot, dn: str) -> Snapshot:
    scope = dataclasses.replace(snap.scopes[0], recipient_filter=f"MemberOfGroup -eq '{dn}'")
    return dataclasses.replace(snap, scopes=(scope, *snap.scopes[1:]))


def _renamed(snap: Snapshot, new: str) -> Snapshot:
    """The scope group renamed to ``new``: its CN and DN change, its members' memberOf with it."""
    old = snap.groups[0]
    dn = old.distinguished_name.replace(f"CN={old.name},", f"CN={new},")
    group = dataclasses.replace(
        old, name=new, display_name=new, distinguished_name=dn, identity=f"contoso.com/Groups/{new}"
    )
    recipients = tuple(
        dataclasses.replace(r, member_of=tuple(dn if m == old.distinguished_name else m for m in r.member_of))
        for r in snap.recipients
    )
    return dataclasses.replace(snap, groups=(group, *snap.groups[1:]), recipients=recipients)


def test_a_dangling_dn_with_the_policys_group_present_is_a_rename(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The group was called "CallPro Agenda Sync" when the scope was made; the policy names its current name.
    found = _exa021(policy, _filter(compliant, OLD_DN))
    assert found.status is Status.FAIL
    assert f"the group was probably renamed to '{GROUP}' (its members match the policy's group.members)" in (
        found.message
    )
    assert "typo" not in found.message
    assert f"$group = Get-DistributionGroup -Identity '{GROUP}'" in found.remediation
    assert "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' -RecipientRestrictionFilter" in (
        found.remediation
    )
    assert "in the policy" not in found.remediation  # the policy already names the group as it is now


def test_a_group_renamed_after_the_policy_was_written(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The filter and the policy still say the old name; the group is now "Field Sales (CallPro)".
    snap = _renamed(compliant, "Field Sales (CallPro)")
    found = _exa021(policy, snap)
    assert found.status is Status.FAIL
    assert "probably renamed to 'Field Sales (CallPro)'" in found.message
    assert "$group = Get-DistributionGroup -Identity 'Field Sales (CallPro)'" in found.remediation
    assert "# and in the policy: group.name and scope.recipientFilter.memberOfGroup 'Field Sales (CallPro)'" in (
        found.remediation
    )


def test_a_near_name_is_still_a_typo(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = _exa021(policy, _filter(compliant, "CN=SecurityGroup-CallPro Claendar Access,OU=Groups,DC=contoso,DC=com"))
    assert found.status is Status.FAIL
    assert f"(a typo of '{GROUP}'?)" in found.message
    assert "renamed" not in found.message


def test_no_rename_when_no_group_has_exactly_the_policys_members(policy: LoadedPolicy, compliant: Snapshot) -> None:
    extra = dataclasses.replace(
        compliant.groups[0], members=(*compliant.groups[0].members, "contoso.com/Users/Carla Eo")
    )
    snap = _filter(dataclasses.replace(compliant, groups=(extra, *compliant.groups[1:])), OLD_DN)
    found = _exa021(policy, snap)
    assert found.status is Status.FAIL
    assert "renamed" not in found.message
    assert "matches no group: the filter selects no one through it" in found.message


def test_no_rename_when_two_groups_have_the_policys_members(policy: LoadedPolicy, compliant: Snapshot) -> None:
    twin = dataclasses.replace(
        compliant.groups[0],
        name="Field Sales copy",
        display_name="Field Sales copy",
        distinguished_name="CN=Field Sales copy,OU=Groups,DC=contoso,DC=com",
        identity="contoso.com/Groups/Field Sales copy",
    )
    snap = _filter(dataclasses.replace(compliant, groups=(*compliant.groups, twin)), OLD_DN)
    found = _exa021(policy, snap)
    assert "renamed" not in found.message  # which one it was is a guess: say nothing rather than guess


def test_a_group_missing_a_member_is_no_rename(tmp_path: Path, compliant: Snapshot) -> None:
    more = policy_with(
        tmp_path,
        "      - fien.field@contoso.com\n",
        "      - fien.field@contoso.com\n      - jet.janssen@contoso.com\n",
    )
    found = _exa021(more, _filter(compliant, OLD_DN))
    assert "renamed" not in found.message
