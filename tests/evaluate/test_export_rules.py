"""`exaudit export` and issue 9's policy fields: group.memberTypes proposed from the members' RecipientTypeDetails,
scope.recipientRoot written in the canonical form Exchange shows. Each exported policy validates and is evaluated
against the state it came from."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from audit.errors import UsageError
from audit.evaluate import evaluate
from audit.evaluate.export import export_policy
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
SVC = "svcServiceAccount@contoso.com"
ROOM = "contoso.com/Users/Meeting Room 1"


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(SNAPSHOTS / "compliant.snapshot.json")[0]


def exported(snap: Snapshot, tmp_path: Path) -> tuple[str, LoadedPolicy, dict[str, Finding]]:
    text = export_policy(snap, SVC)
    path = tmp_path / "exported.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)  # validates: a bad memberTypes value or root would raise here
    return text, policy, {f.check_id: f for f in evaluate(policy, snap, NOW)}


def with_member(snap: Snapshot, identity: str) -> Snapshot:
    group = dataclasses.replace(snap.groups[0], members=(*snap.groups[0].members, identity))
    return dataclasses.replace(snap, groups=(group, *snap.groups[1:]))


def converted(snap: Snapshot, kinds: dict[str, str]) -> Snapshot:
    """The snapshot with these recipients' RecipientTypeDetails changed (Get-Mailbox and Get-Recipient alike)."""
    mailboxes = tuple(
        dataclasses.replace(m, recipient_type_details=kinds[m.identity]) if m.identity in kinds else m
        for m in snap.mailboxes
    )
    recipients = tuple(
        dataclasses.replace(r, recipient_type_details=kinds[r.identity]) if r.identity in kinds else r
        for r in snap.recipients
    )
    return dataclasses.replace(snap, mailboxes=mailboxes, recipients=recipients)


def members(snap: Snapshot) -> list[str]:
    return list(snap.groups[0].members)


def test_user_mailboxes_only_give_user_mailbox(compliant: Snapshot, tmp_path: Path) -> None:
    text, policy, found = exported(compliant, tmp_path)
    assert "  memberTypes: [UserMailbox]\n" in text
    assert policy.spec.group is not None
    assert policy.spec.group.member_types == ("UserMailbox",)
    assert found["EXA035"].status is Status.PASS
    assert not [c for c, f in found.items() if f.status in (Status.FAIL, Status.ERROR)]


def test_a_room_among_user_mailboxes_proposes_user_mailbox_and_names_the_room(
    compliant: Snapshot, tmp_path: Path
) -> None:
    text, policy, found = exported(with_member(compliant, ROOM), tmp_path)
    assert policy.spec.group is not None
    assert policy.spec.group.member_types == ("UserMailbox",)
    review = next(line for line in text.splitlines() if "REVIEW: members of other types" in line)
    assert '"RoomMailbox": "room1@contoso.com"' in review
    # Never silently widened: the room mailbox is still named, by EXA035, until someone decides.
    assert found["EXA035"].status is Status.FAIL
    assert "is a RoomMailbox, not UserMailbox (group.memberTypes)" in found["EXA035"].message


def test_one_other_hosted_type_for_every_member_is_mirrored(compliant: Snapshot, tmp_path: Path) -> None:
    snap = converted(compliant, dict.fromkeys(members(compliant), "SharedMailbox"))
    text, _, found = exported(snap, tmp_path)
    assert "  memberTypes: [SharedMailbox]\n" in text
    assert found["EXA035"].status is Status.PASS


def test_no_user_mailbox_among_several_types_leaves_member_types_unset(compliant: Snapshot, tmp_path: Path) -> None:
    first, *rest = members(compliant)
    snap = converted(compliant, {first: "RoomMailbox", **dict.fromkeys(rest, "SharedMailbox")})
    text, policy, found = exported(snap, tmp_path)
    assert "memberTypes:" not in text
    assert "# REVIEW: the members are not all of one type of hosted mailbox" in text
    assert policy.spec.group is not None
    assert policy.spec.group.member_types is None
    assert found["EXA035"].status is Status.PASS  # unset: any hosted mailbox, as today


def test_a_member_type_that_is_not_a_hosted_mailbox_is_never_proposed(compliant: Snapshot, tmp_path: Path) -> None:
    snap = converted(compliant, dict.fromkeys(members(compliant), "RemoteUserMailbox"))
    text, policy, _ = exported(snap, tmp_path)
    assert "memberTypes:" not in text
    assert '"RemoteUserMailbox": ' in text
    assert policy.spec.group is not None
    assert policy.spec.group.member_types is None


def test_the_review_names_a_bounded_number_of_members(compliant: Snapshot, tmp_path: Path) -> None:
    # Twelve room mailboxes join the group: the REVIEW line names ten and counts the rest.
    room = next(r for r in compliant.recipients if r.identity == ROOM)
    rooms = tuple(
        dataclasses.replace(
            room, identity=f"{ROOM} {n:02}", guid=f"room-{n}", primary_smtp_address=f"room-{n:02}@x.test"
        )
        for n in range(12)
    )
    snap = dataclasses.replace(compliant, recipients=(*compliant.recipients, *rooms))
    for r in rooms:
        snap = with_member(snap, r.identity)
    text, _, _ = exported(snap, tmp_path)
    review = next(line for line in text.splitlines() if "REVIEW: members of other types" in line)
    assert review.count("@x.test") == 10
    assert review.endswith("and 2 more); EXA035 names them until they leave the")


@pytest.mark.parametrize(
    "stored", ["contoso.com/Users", "CN=Users,DC=contoso,DC=com", "cn=Users, dc=contoso, dc=com", "contoso.com/Users/"]
)
def test_the_root_is_exported_canonical_and_evaluates_clean(stored: str, compliant: Snapshot, tmp_path: Path) -> None:
    snap = dataclasses.replace(
        compliant, scopes=tuple(dataclasses.replace(s, recipient_root=stored) for s in compliant.scopes)
    )
    text, policy, found = exported(snap, tmp_path)
    assert '  recipientRoot: "contoso.com/Users"\n' in text
    assert policy.spec.scope is not None
    assert policy.spec.scope.recipient_root == "contoso.com/Users"
    assert found["EXA020"].status is Status.PASS
    assert found["EXA040"].status is Status.PASS


def test_a_dn_root_with_a_slash_stays_a_dn(compliant: Snapshot, tmp_path: Path) -> None:
    # A canonical name escapes '/' in an OU's name; left unescaped it would name another OU, so the DN is kept.
    root = "OU=Sales/Field,DC=contoso,DC=com"
    snap = dataclasses.replace(
        compliant, scopes=tuple(dataclasses.replace(s, recipient_root=root) for s in compliant.scopes)
    )
    text, _, found = exported(snap, tmp_path)
    assert f'  recipientRoot: "{root}"\n' in text
    assert found["EXA020"].status is Status.PASS


def test_an_ou_scoped_assignment_is_not_called_unscoped(compliant: Snapshot) -> None:
    # RecipientWriteScope OU reaches the recipients below the OU, not every mailbox; a policy cannot name an OU as
    # its scope, so export says what to create instead.
    assignments = tuple(
        dataclasses.replace(
            a,
            recipient_write_scope="OU",
            custom_recipient_write_scope=None,
            recipient_ou_scope="contoso.com/Field Sales",
        )
        if a.name == "ApplicationImpersonation-CallPro Calendar Access"
        else a
        for a in compliant.role_assignments
    )
    with pytest.raises(UsageError) as raised:
        export_policy(dataclasses.replace(compliant, role_assignments=assignments), SVC)
    message = str(raised.value)
    assert "unscoped" not in message
    assert "every mailbox below contoso.com/Field Sales" in message
    assert "New-ManagementScope -RecipientRoot 'contoso.com/Field Sales'" in message
    assert "\n" not in message
