"""Which group EXA021 calls the renamed one (audit.evaluate.renamed), beyond tests/evaluate/test_renamed_group.py.

Killed mutants of issue 14's mutation run: a group only counts as the renamed one when every direct member is a
known recipient the policy names (or atMost allows) and no required member is missing; an empty group never
does; a policy that requires no member recognises no rename. The fix touches the policy only when neither the
group's name nor its display name is the one the policy says.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.evaluate.context import Context
from audit.evaluate.directory import Directory
from audit.evaluate.renamed import renamed_group
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Group, Recipient, Snapshot, load
from tests.evaluate.test_mut_sample import members_block
from tests.evaluate.test_renamed_group import GROUP, OLD_DN, _filter
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW, policy_with

SIX = (
    "ad.viseur@contoso.com, bea.buiten@contoso.com, cor.veld@contoso.com, dirk.dealer@contoso.com, "
    "eva.expediteur@contoso.com, fien.field@contoso.com"
)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


def _exa021(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == "EXA021")


def _other(snap: Snapshot, name: str, members: tuple[str, ...]) -> Group:
    return dataclasses.replace(
        snap.groups[0],
        name=name,
        display_name=name,
        distinguished_name=f"CN={name},OU=Groups,DC=contoso,DC=com",
        identity=f"contoso.com/Groups/{name}",
        members=members,
    )


def _with_groups(snap: Snapshot, *groups: Group) -> Snapshot:
    return _filter(dataclasses.replace(snap, groups=(*snap.groups, *groups)), OLD_DN)


def test_an_empty_group_or_one_with_an_unknown_member_is_not_the_renamed_one(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    members = compliant.groups[0].members
    for other in (
        _other(compliant, "Empty", ()),
        _other(compliant, "With a stranger", (*members, "contoso.com/Users/Nobody Known")),
    ):
        found = _exa021(policy, _with_groups(compliant, other))
        assert found.status is Status.FAIL
        assert f"the group was probably renamed to '{GROUP}'" in found.message, other.name
        assert "so it selects no one" in found.message
        assert "still names the old DN" in found.message


def test_a_member_atmost_does_not_allow_rules_a_group_out(tmp_path: Path, compliant: Snapshot) -> None:
    bounded = policy_with(tmp_path, members_block(), f"    atLeast: [{SIX}]\n    atMost: [{SIX}]\n")
    members = compliant.groups[0].members
    found = _exa021(
        bounded, _with_groups(compliant, _other(compliant, "Plus one", (*members, "contoso.com/Users/Jet Janssen")))
    )
    assert f"the group was probably renamed to '{GROUP}'" in found.message


def test_a_policy_that_requires_no_member_recognises_no_rename(tmp_path: Path, compliant: Snapshot) -> None:
    ceiling = policy_with(tmp_path, members_block(), f"    atMost: [{SIX}]\n")
    found = _exa021(ceiling, _filter(compliant, OLD_DN))
    assert found.status is Status.FAIL
    assert "renamed" not in found.message


@pytest.mark.parametrize("same", ["name", "display_name"])
def test_the_policy_is_left_alone_when_the_group_keeps_the_name_it_gives(
    policy: LoadedPolicy, compliant: Snapshot, same: str
) -> None:
    # The filter names the DN the group had before a rename; its name and display name now differ, and the policy
    # names it by one of them.
    other = {"name": "Field Sales (CallPro)", "display_name": "Field Sales (CallPro)", same: GROUP}
    renamed = dataclasses.replace(compliant.groups[0], **other)
    snap = dataclasses.replace(compliant, groups=(renamed, *compliant.groups[1:]))
    found = _exa021(policy, _filter(snap, OLD_DN))
    assert found.status is Status.FAIL
    assert f"probably renamed to '{renamed.name}'" in found.message
    assert "Set-ManagementScope -Identity 'Scope-CallPro Calendar Access'" in found.remediation
    assert "in the policy" not in found.remediation


def test_members_with_no_address_beyond_the_policys_are_a_match(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # fien.field's proxy fien@contoso.com made the members' addresses a strict superset of the policy's; without
    # it they are the same set, and that is still every required member present.
    def primary_only(r: Recipient) -> Recipient:
        return dataclasses.replace(r, email_addresses=(f"SMTP:{r.primary_smtp_address}",))

    snap = dataclasses.replace(compliant, recipients=tuple(map(primary_only, compliant.recipients)))
    found = _exa021(policy, _filter(snap, OLD_DN))
    assert f"the group was probably renamed to '{GROUP}'" in found.message


def _ctx(policy: LoadedPolicy, snap: Snapshot) -> Context:
    return Context(policy=policy, snapshot=snap, directory=Directory(snap), now=NOW)


def test_the_dns_own_group_is_never_the_renamed_one(policy: LoadedPolicy, compliant: Snapshot) -> None:
    """renamed_group's contract: the one group *other than the DN's* whose members match (compared ignoring case)."""
    own = compliant.groups[0]
    assert renamed_group(_ctx(policy, compliant), OLD_DN) == own
    assert renamed_group(_ctx(policy, compliant), own.distinguished_name) is None
    assert renamed_group(_ctx(policy, compliant), own.distinguished_name.upper()) is None


def test_a_group_whose_dn_was_not_read_can_still_be_the_renamed_one(policy: LoadedPolicy, compliant: Snapshot) -> None:
    """A snapshot may hold a group without a DN (the field is text, "" when not read): its members still decide."""
    blank = dataclasses.replace(compliant.groups[0], distinguished_name="")
    snap = dataclasses.replace(compliant, groups=(blank, *compliant.groups[1:]))
    assert renamed_group(_ctx(policy, snap), OLD_DN) == blank
    found = _exa021(policy, _filter(snap, OLD_DN))
    assert f"the group was probably renamed to '{GROUP}'" in found.message
