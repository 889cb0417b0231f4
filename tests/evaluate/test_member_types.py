"""EXA035 judges group.memberTypes: a shared or room mailbox in a field staff group fails, named with its type."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW, policy_with

ROOM = "contoso.com/Users/Meeting Room 1"
FIEN = "contoso.com/Users/Fien Field"


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


def _exa035(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == "EXA035")


def _with_member(snap: Snapshot, identity: str) -> Snapshot:
    group = dataclasses.replace(snap.groups[0], members=(*snap.groups[0].members, identity))
    return dataclasses.replace(snap, groups=(group, *snap.groups[1:]))


def _converted(snap: Snapshot, identity: str, kind: str) -> Snapshot:
    mailboxes = tuple(
        dataclasses.replace(m, recipient_type_details=kind) if m.identity == identity else m for m in snap.mailboxes
    )
    recipients = tuple(
        dataclasses.replace(r, recipient_type_details=kind) if r.identity == identity else r for r in snap.recipients
    )
    return dataclasses.replace(snap, mailboxes=mailboxes, recipients=recipients)


def test_the_seed_policy_says_user_mailboxes(policy: LoadedPolicy, compliant: Snapshot) -> None:
    assert policy.spec.group is not None
    assert policy.spec.group.member_types == ("UserMailbox",)
    found = _exa035(policy, compliant)
    assert found.status is Status.PASS
    assert found.message.endswith("(UserMailbox).")
    assert found.expected == "every member a UserMailbox hosted here, account enabled"


def test_a_room_mailbox_in_the_group_is_named(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = _exa035(policy, _with_member(compliant, ROOM))
    assert found.status is Status.FAIL
    assert "Meeting Room 1 <room1@contoso.com> is a RoomMailbox, not UserMailbox (group.memberTypes)" in found.message
    assert "are not of the types the policy allows" in found.message
    assert "-Member 'contoso.com/Users/Meeting Room 1'" in found.remediation
    assert "# not a UserMailbox (group.memberTypes)" in found.remediation


def test_without_member_types_a_room_mailbox_is_a_syncable_member(tmp_path: Path, compliant: Snapshot) -> None:
    loose = policy_with(tmp_path, "  memberTypes: [UserMailbox]\n", "")
    assert _exa035(loose, _with_member(compliant, ROOM)).status is Status.PASS


def test_a_member_converted_to_shared_gets_converted_back(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # fien.field is in the policy's exact member list: removing her would only trade EXA035 for EXA033.
    found = _exa035(policy, _converted(compliant, FIEN, "SharedMailbox"))
    assert found.status is Status.FAIL
    assert "Fien Field <fien.field@contoso.com> is a SharedMailbox, not UserMailbox" in found.message
    assert "Set-Mailbox -Identity 'fien.field@contoso.com' -Type Regular" in found.remediation
    assert "Remove-DistributionGroupMember" not in found.remediation


def test_several_allowed_types(tmp_path: Path, compliant: Snapshot) -> None:
    both = policy_with(tmp_path, "memberTypes: [UserMailbox]", "memberTypes: [UserMailbox, SharedMailbox]")
    snap = _converted(compliant, FIEN, "SharedMailbox")
    assert _exa035(both, snap).status is Status.PASS
    found = _exa035(both, _with_member(snap, ROOM))
    assert found.status is Status.FAIL
    assert "is a RoomMailbox, not UserMailbox or SharedMailbox" in found.message


def test_a_type_that_cannot_be_synced_still_fails_whatever_the_policy_lists(
    tmp_path: Path, compliant: Snapshot
) -> None:
    mail_users = policy_with(tmp_path, "memberTypes: [UserMailbox]", "memberTypes: [UserMailbox, MailUser]")
    snap = _converted(compliant, FIEN, "MailUser")
    found = _exa035(mail_users, snap)
    assert found.status is Status.FAIL
    assert "is a MailUser, not a mailbox in this organization" in found.message
    assert "cannot be synced" in found.message


def test_both_kinds_of_problem_in_one_finding(policy: LoadedPolicy, compliant: Snapshot) -> None:
    snap = _with_member(_converted(compliant, FIEN, "MailUser"), ROOM)
    found = _exa035(policy, snap)
    assert found.status is Status.FAIL
    assert "2 member(s)" in found.message
    assert "cannot be synced or are not of the types the policy allows" in found.message
