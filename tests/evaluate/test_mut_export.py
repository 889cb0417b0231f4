"""`exaudit export` word for word (issue 14): the policy proposed from a snapshot, or the refusal, for every path.

tests/evaluate/test_export.py and test_export_rules.py check that an export validates and evaluates clean and
pick single lines; a REVIEW comment that lost a word, a path listed under the wrong kind or a member list in
another order passed them. Here each export is a golden file (tests/data/evaluate/export: regenerate with
``EXAUDIT_REGEN_GOLDEN=1`` outside CI and review the diff): every snapshot of tests/data/snapshots, and states
built from the compliant one that take each branch (a direct, security-group or OU-scoped assignment, the
account found by its mailbox address, other roles, an OPATH or unparseable filter, a group to question, members
of several types, hostile names). A refusal is golden too: its whole message is what the admin reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.errors import PolicyError, UsageError
from audit.evaluate import evaluate
from audit.evaluate.export import export_policy
from audit.findings import Status
from audit.policy import load_policy
from audit.snapshot import Group, Recipient, RoleAssignment, Snapshot, load
from tests.gates import check_golden

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"
GOLDEN = ROOT / "tests" / "data" / "evaluate" / "export"
HINT = "regenerate with EXAUDIT_REGEN_GOLDEN=1 (outside CI) and review the diff"
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
SVC = "svcServiceAccount@contoso.com"
SVC_ID = "contoso.com/Users/svcServiceAccount"
SVC_DN = "CN=svcServiceAccount,CN=Users,DC=contoso,DC=com"
MAIN = "ApplicationImpersonation-CallPro Calendar Access"
SCOPE = "Scope-CallPro Calendar Access"
GROUP = "SecurityGroup-CallPro Calendar Access"
ROOM = "contoso.com/Users/Meeting Room 1"
FILES = sorted(p.name.removesuffix(".snapshot.json") for p in SNAPSHOTS.glob("*.snapshot.json"))


def _compliant() -> Snapshot:
    return load(SNAPSHOTS / "compliant.snapshot.json")[0]


def _render(snapshot: Snapshot, account: str = SVC, name: str | None = None) -> str:
    try:
        return export_policy(snapshot, account, name=name)
    except UsageError as exc:
        return f"UsageError: {exc}\n"


@pytest.mark.parametrize("case", FILES)
def test_export_of_each_snapshot_matches_golden(case: str) -> None:
    check_golden(GOLDEN / f"{case}.yaml", _render(load(SNAPSHOTS / f"{case}.snapshot.json")[0]), HINT)


# States built from the compliant snapshot -------------------------------------------------------------------


def _assignment(snap: Snapshot, name: str = MAIN) -> RoleAssignment:
    return next(a for a in snap.role_assignments if a.name == name)


def _with_assignments(snap: Snapshot, *extra: RoleAssignment, drop: str | None = None) -> Snapshot:
    kept = tuple(a for a in snap.role_assignments if a.name != drop)
    return dataclasses.replace(snap, role_assignments=(*extra, *kept))


def _direct(snap: Snapshot, name: str, **changes: object) -> RoleAssignment:
    """A copy of the main assignment, given straight to the service account."""
    fields: dict[str, object] = {
        "name": name,
        "identity": name,
        "role_assignee": SVC_ID,
        "role_assignee_name": "svcServiceAccount",
        "role_assignee_type": "User",
        **changes,
    }
    return dataclasses.replace(_assignment(snap), **fields)  # type: ignore[arg-type]


def _group(snap: Snapshot, name: str = GROUP) -> Group:
    return next(g for g in snap.groups if g.name == name)


def _with_group(snap: Snapshot, **changes: object) -> Snapshot:
    groups = tuple(dataclasses.replace(g, **changes) if g.name == GROUP else g for g in snap.groups)  # type: ignore[arg-type]
    return dataclasses.replace(snap, groups=groups)


def _with_scope(snap: Snapshot, **changes: object) -> Snapshot:
    scopes = tuple(dataclasses.replace(s, **changes) for s in snap.scopes)  # type: ignore[arg-type]
    return dataclasses.replace(snap, scopes=scopes)


def _with_user(snap: Snapshot, **changes: object) -> Snapshot:
    users = tuple(dataclasses.replace(u, **changes) if u.identity == SVC_ID else u for u in snap.users)  # type: ignore[arg-type]
    return dataclasses.replace(snap, users=users)


def _kinds(snap: Snapshot, kinds: dict[str, str]) -> Snapshot:
    """These recipients' RecipientTypeDetails changed, in Get-Mailbox and Get-Recipient alike."""
    mailboxes = tuple(
        dataclasses.replace(m, recipient_type_details=kinds[m.identity]) if m.identity in kinds else m
        for m in snap.mailboxes
    )
    recipients = tuple(
        dataclasses.replace(r, recipient_type_details=kinds[r.identity]) if r.identity in kinds else r
        for r in snap.recipients
    )
    return dataclasses.replace(snap, mailboxes=mailboxes, recipients=recipients)


def _rooms(snap: Snapshot, count: int) -> Snapshot:
    """``count`` room mailboxes (recipients only) join the scope's group."""
    room = next(r for r in snap.recipients if r.identity == ROOM)
    rooms = tuple(
        dataclasses.replace(
            room, identity=f"{ROOM} {n:02}", guid=f"room-{n}", primary_smtp_address=f"Room-{n:02}@x.test"
        )
        for n in range(count)
    )
    group = _group(snap)
    snap = _with_group(snap, members=(*group.members, *(r.identity for r in rooms)))
    return dataclasses.replace(snap, recipients=(*snap.recipients, *rooms))


def direct(snap: Snapshot) -> Snapshot:
    # The role group's assignment replaced by one to the account itself.
    return _with_assignments(snap, _direct(snap, "Impersonation-direct"), drop=MAIN)


def direct_by_dn(snap: Snapshot) -> Snapshot:
    # The assignee written as the account's DN, in another case than the records write it: still the account.
    return _with_assignments(snap, _direct(snap, "Impersonation-dn", role_assignee=SVC_DN.upper()), drop=MAIN)


def assignee_dn_of_recipient(snap: Snapshot) -> Snapshot:
    # Get-Recipient writes the account's Identity another way than Get-User (its Name, as Exchange Online does),
    # so the assignee's DN resolves to the recipient's form: the assignments are matched by the account's DN.
    recipients = tuple(
        dataclasses.replace(r, identity="svcServiceAccount") if r.identity == SVC_ID else r for r in snap.recipients
    )
    snap = dataclasses.replace(snap, recipients=recipients)
    return _with_assignments(
        snap,
        _direct(snap, "Impersonation-dn", role_assignee=SVC_DN),
        _direct(snap, "recipients-dn", role="Mail Recipients", role_assignee=SVC_DN),
        drop=MAIN,
    )


def security_group(snap: Snapshot) -> Snapshot:
    # A mail-enabled security group the account is a member of holds the assignment.
    office = _group(snap, "Sales Office")
    groups = tuple(
        dataclasses.replace(g, members=(*g.members, SVC_ID)) if g.name == office.name else g for g in snap.groups
    )
    via = dataclasses.replace(
        _assignment(snap),
        role_assignee=office.identity,
        role_assignee_name=office.name,
        role_assignee_type="SecurityGroup",
    )
    return _with_assignments(dataclasses.replace(snap, groups=groups), via, drop=MAIN)


def scoped_paths_by_name(snap: Snapshot) -> Snapshot:
    # Three scoped paths, listed out of order, and an unscoped one first: the scoped path named first leads.
    unscoped = _direct(snap, "A-unscoped", custom_recipient_write_scope=None, recipient_write_scope="Organization")
    second = _direct(snap, "C-direct")
    first = _direct(snap, "B-direct")
    return _with_assignments(snap, unscoped, second, first)


def ignored_assignments(snap: Snapshot) -> Snapshot:
    # None of these gives the account ApplicationImpersonation: disabled, delegating, an assignment policy's.
    return _with_assignments(
        snap,
        _direct(snap, "off", enabled=False),
        _direct(snap, "delegating", delegation_type="Delegating"),
        _direct(snap, "policy", role_assignee_type="RoleAssignmentPolicy"),
        _direct(snap, "other-account", role_assignee="contoso.com/Users/Ivo Intern"),
    )


def other_roles(snap: Snapshot) -> Snapshot:
    # Other roles held directly, by DN, through the role group; and some that do not count.
    role_group = next(a for a in snap.role_assignments if a.role_assignee_name == "CallPro Calendar Access")
    return _with_assignments(
        snap,
        _direct(snap, "mail-recipients", role="Mail Recipients"),
        _direct(snap, "by-dn", role="Mailbox Search", role_assignee=SVC_DN.upper()),
        dataclasses.replace(role_group, name="rg-view", identity="rg-view", role="View-Only Recipients"),
        _direct(snap, "off", role="Mail Enabled Public Folders", enabled=False),
        _direct(snap, "delegating", role="Role Management", delegation_type="Delegating"),
        _direct(snap, "policy", role="MyBaseOptions", role_assignee_type="RoleAssignmentPolicy"),
        _direct(snap, "twice", role="Mail Recipients"),
        _direct(snap, "impersonation-case", role="applicationImpersonation"),
        _direct(snap, "someone-else", role="Mail Import Export", role_assignee="contoso.com/Users/Ivo Intern"),
    )


def by_mailbox_address(snap: Snapshot) -> Snapshot:
    # The account is named by a mailbox address that is not its UPN: found through its mailbox (listed twice).
    mailbox = next(m for m in snap.mailboxes if m.identity == SVC_ID)
    other = dataclasses.replace(mailbox, primary_smtp_address="callpro@contoso.com")
    return dataclasses.replace(snap, mailboxes=(*snap.mailboxes, other, other))


def no_upn(snap: Snapshot) -> Snapshot:
    return _with_user(snap, user_principal_name="", sam_account_name="", windows_email_address="svc.mail@contoso.com")


def no_upn_no_address(snap: Snapshot) -> Snapshot:
    return _with_user(snap, user_principal_name="", windows_email_address="", sam_account_name="")


def opath_scope(snap: Snapshot) -> Snapshot:
    # An OPATH filter below a root: the probes list the mailboxes it selects today, lower-cased and sorted.
    snap = _with_scope(
        snap,
        recipient_filter="Department -like 'Field Sales*' -or Name -eq 'SecurityGroup-CallPro Calendar Access'",
        recipient_root="CN=Users,DC=contoso,DC=com",
    )
    recipients = tuple(
        dataclasses.replace(r, primary_smtp_address=r.primary_smtp_address.upper())
        if r.name == "Jet Janssen"
        else dataclasses.replace(r, primary_smtp_address="")
        if r.name == "Fien Field"
        else r
        for r in snap.recipients
    )
    return dataclasses.replace(snap, recipients=recipients)


def opath_outside_root(snap: Snapshot) -> Snapshot:
    return _with_scope(snap, recipient_filter="Department -eq 'Field Sales'", recipient_root="contoso.com/Groups")


def unparseable_filter(snap: Snapshot) -> Snapshot:
    return _with_scope(snap, recipient_filter="Department -eq 'Field Sales", recipient_root="OU=A/B,DC=contoso,DC=com")


def no_filter(snap: Snapshot) -> Snapshot:
    return _with_scope(snap, recipient_filter=None)


def member_of_ne(snap: Snapshot) -> Snapshot:
    return _with_scope(snap, recipient_filter="MemberOfGroup -ne 'CN=Sales Office,OU=Groups,DC=contoso,DC=com'")


def member_of_unknown(snap: Snapshot) -> Snapshot:
    return _with_scope(snap, recipient_filter="memberofgroup -eq 'CN=Gone,OU=Groups,DC=contoso,DC=com'")


def member_of_and(snap: Snapshot) -> Snapshot:
    scope = snap.scopes[0].recipient_filter
    return _with_scope(snap, recipient_filter=f"({scope}) -and (Department -eq 'Field Sales')")


def scope_name_case(snap: Snapshot) -> Snapshot:
    assignment = dataclasses.replace(_assignment(snap), custom_recipient_write_scope=SCOPE.upper())
    return _with_assignments(snap, assignment, drop=MAIN)


def scope_missing(snap: Snapshot) -> Snapshot:
    assignment = dataclasses.replace(_assignment(snap), custom_recipient_write_scope="Scope-Gone")
    return _with_assignments(snap, assignment, drop=MAIN)


def ou_scoped(snap: Snapshot) -> Snapshot:
    assignment = dataclasses.replace(
        _assignment(snap),
        recipient_write_scope="OU",
        custom_recipient_write_scope=None,
        recipient_ou_scope="contoso.com/Field Sales\n'x'",
    )
    return _with_assignments(snap, assignment, drop=MAIN)


def unscoped_without_upn(snap: Snapshot) -> Snapshot:
    assignment = dataclasses.replace(
        _assignment(snap), recipient_write_scope="MyGAL", custom_recipient_write_scope=None
    )
    return _with_assignments(_with_user(snap, user_principal_name=""), assignment, drop=MAIN)


def ou_scoped_without_upn(snap: Snapshot) -> Snapshot:
    return ou_scoped(_with_user(snap, user_principal_name=""))


def nothing_without_upn(snap: Snapshot) -> Snapshot:
    return _with_user(_with_assignments(snap, drop=MAIN), user_principal_name="")


def ambiguous_account(snap: Snapshot) -> Snapshot:
    twin = dataclasses.replace(
        next(u for u in snap.users if u.identity == SVC_ID),
        identity="contoso.com/Other/svcServiceAccount",
        distinguished_name="CN=svcServiceAccount,OU=Other,DC=contoso,DC=com",
    )
    return dataclasses.replace(snap, users=(*snap.users, twin))


def questionable_group(snap: Snapshot) -> Snapshot:
    # Not mail-enabled as a scope group should be, visible, open to join, with a nested group and members that
    # are no mailbox, a recipient without an address, an unknown identity; addresses in upper case.
    group = _group(snap)
    recipients = tuple(
        dataclasses.replace(r, primary_smtp_address=r.primary_smtp_address.upper()) if r.name == "Ad Viseur" else r
        for r in snap.recipients
    )
    snap = dataclasses.replace(snap, recipients=recipients)
    return _with_group(
        snap,
        recipient_type_details="UniversalSecurityGroup",
        hidden_from_address_lists_enabled=None,
        member_join_restriction="Open",
        member_depart_restriction="Closed",
        members=(*group.members, "contoso.com/Groups/Sales Office", "contoso.com/Groups/All Staff", "contoso.com/x"),
    )


def depart_open(snap: Snapshot) -> Snapshot:
    return _with_group(snap, member_depart_restriction="ApprovalRequired", hidden_from_address_lists_enabled=False)


def distribution_group(snap: Snapshot) -> Snapshot:
    return _with_group(snap, recipient_type_details="MailNonUniversalGroup", member_join_restriction="closed")


def no_mailbox_members(snap: Snapshot) -> Snapshot:
    # Only a nested group and a recipient that is no mailbox: nothing to list as exactly.
    contact = Recipient(
        name="Contact",
        identity="contoso.com/Users/Contact",
        distinguished_name="CN=Contact,CN=Users,DC=contoso,DC=com",
        guid="c0",
        alias="contact",
        display_name="Contact",
        primary_smtp_address="",
        recipient_type="MailContact",
        recipient_type_details="MailContact",
    )
    snap = dataclasses.replace(snap, recipients=(*snap.recipients, contact))
    return _with_group(snap, members=("contoso.com/Groups/Sales Office", contact.identity))


def recipient_only_members(snap: Snapshot) -> Snapshot:
    # Members known only to Get-Recipient (no Get-Mailbox row): their type is read there.
    ids = {"contoso.com/Users/Ad Viseur", "contoso.com/Users/Bea Buiten"}
    return dataclasses.replace(snap, mailboxes=tuple(m for m in snap.mailboxes if m.identity not in ids))


def mailbox_type_wins(snap: Snapshot) -> Snapshot:
    # Get-Mailbox says SharedMailbox, Get-Recipient UserMailbox: EXA035 reads Get-Mailbox first.
    mailboxes = tuple(
        dataclasses.replace(m, recipient_type_details="SharedMailbox") if m.name == "Ad Viseur" else m
        for m in snap.mailboxes
    )
    return dataclasses.replace(snap, mailboxes=mailboxes)


def one_shared_type(snap: Snapshot) -> Snapshot:
    return _kinds(snap, dict.fromkeys(_group(snap).members, "SharedMailbox"))


def no_user_mailbox(snap: Snapshot) -> Snapshot:
    first, *rest = _group(snap).members
    return _kinds(snap, {first: "RoomMailbox", **dict.fromkeys(rest, "SharedMailbox")})


def remote_only(snap: Snapshot) -> Snapshot:
    return _kinds(snap, dict.fromkeys(_group(snap).members, "RemoteUserMailbox"))


def ten_rooms(snap: Snapshot) -> Snapshot:
    return _rooms(snap, 10)


def eleven_rooms(snap: Snapshot) -> Snapshot:
    return _rooms(snap, 11)


def hostile_names(snap: Snapshot) -> Snapshot:
    # Quotes, backslashes, line breaks and a bidi override in names the export writes.
    snap = _with_group(snap, name='Field "Staff" \\ C:\\x\n# kind: Other\u202e')
    role_groups = tuple(
        dataclasses.replace(rg, name="Role\tGroup\r\n", roles=()) if rg.name == "CallPro Calendar Access" else rg
        for rg in snap.role_groups
    )
    snap = dataclasses.replace(snap, role_groups=role_groups, collected_at='2026-11-20T09:00:00Z"\nx: 1')
    return _with_user(snap, user_principal_name="svc\u2028@contoso.com", sam_account_name="Svc.Account_01 (CallPro)")


def long_sam(snap: Snapshot) -> Snapshot:
    return _with_user(snap, sam_account_name="a" * 70)


def sam_without_letters(snap: Snapshot) -> Snapshot:
    return _with_user(snap, sam_account_name="", name="--")


STATES: dict[str, Callable[[Snapshot], Snapshot]] = {
    f.__name__.replace("_", "-"): f
    for f in (
        direct,
        direct_by_dn,
        assignee_dn_of_recipient,
        security_group,
        scoped_paths_by_name,
        ignored_assignments,
        other_roles,
        by_mailbox_address,
        no_upn,
        no_upn_no_address,
        opath_scope,
        opath_outside_root,
        unparseable_filter,
        no_filter,
        member_of_ne,
        member_of_unknown,
        member_of_and,
        scope_name_case,
        scope_missing,
        ou_scoped,
        unscoped_without_upn,
        ou_scoped_without_upn,
        nothing_without_upn,
        ambiguous_account,
        questionable_group,
        depart_open,
        distribution_group,
        no_mailbox_members,
        recipient_only_members,
        mailbox_type_wins,
        one_shared_type,
        no_user_mailbox,
        remote_only,
        ten_rooms,
        eleven_rooms,
        hostile_names,
        long_sam,
        sam_without_letters,
    )
}
VERBATIM = {"no-filter", "unparseable-filter"}
ACCOUNTS = {"by-mailbox-address": "callpro@contoso.com", "no-upn": "svcServiceAccount", "no-upn-no-address": SVC_ID}


@pytest.mark.parametrize("case", sorted(STATES))
def test_export_of_each_state_matches_golden(case: str, tmp_path: Path) -> None:
    snapshot = STATES[case](_compliant())
    text = _render(snapshot, ACCOUNTS.get(case, SVC))
    check_golden(GOLDEN / "states" / f"{case}.yaml", text, HINT)
    if text.startswith("UsageError: "):
        return
    path = tmp_path / "exported.yaml"
    path.write_text(text, encoding="utf-8")
    if case in VERBATIM:
        # Exported as found, for `exaudit validate` to say what is wrong with it.
        with pytest.raises(PolicyError, match=r"recipientFilter\.opath"):
            load_policy(path)
    else:
        load_policy(path)  # what export writes is a policy `exaudit validate` accepts


def test_the_given_name_is_used_as_it_is() -> None:
    text = export_policy(_compliant(), SVC, name="Given Name: x")
    assert '  name: "Given Name: x"\n' in text
    assert '  name: "svcserviceaccount-applicationimpersonation"\n' in export_policy(_compliant(), SVC)


def test_an_opath_export_probes_what_the_filter_selects(tmp_path: Path) -> None:
    snapshot = opath_outside_root(_compliant())
    text = export_policy(snapshot, SVC)
    assert "  allow: []\n" in text  # the root holds no mailbox the filter selects
    snapshot = _with_scope(_compliant(), recipient_filter="Department -eq 'Field Sales'")
    path = tmp_path / "p.yaml"
    path.write_text(export_policy(snapshot, SVC), encoding="utf-8")
    probes = load_policy(path).spec.probes
    assert probes is not None
    assert probes.allow == (
        "ad.viseur@contoso.com",
        "bea.buiten@contoso.com",
        "cor.veld@contoso.com",
        "dirk.dealer@contoso.com",
        "eva.expediteur@contoso.com",
        "fien.field@contoso.com",
    )
    statuses = {f.check_id: f.status for f in evaluate(load_policy(path), snapshot, NOW)}
    assert statuses["EXA040"] is Status.PASS


def test_an_unknown_account_and_an_ambiguous_one_are_named() -> None:
    with pytest.raises(UsageError) as raised:
        export_policy(_compliant(), "nobody@contoso.com")
    assert str(raised.value) == "no user in the collected state has the UPN or address 'nobody@contoso.com'"
    with pytest.raises(UsageError) as raised:
        export_policy(ambiguous_account(_compliant()), SVC)
    assert str(raised.value) == (
        "'svcServiceAccount@contoso.com' matches 2 users; give the UPN of the one the vendor uses"
    )
