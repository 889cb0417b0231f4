"""EXA030-EXA035 (audit.evaluate.group), verdict by verdict: status, message, expected, actual, evidence, fix.

Issue 14's mutation run: each branch of the group checks is held to the whole verdict it returns, so that a word,
a field or a PowerShell line that changes fails a test. The group is given a name with a quote so that every
remediation line shows it quoted for PowerShell (audit.evaluate.powershell.ps).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from audit.evaluate import group as checks
from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import Directory
from audit.findings import Status
from audit.policy import LoadedPolicy, load_policy
from audit.policy.loader import MemberExpectation
from audit.snapshot import Group, Mailbox, Snapshot, load
from tests.evaluate.test_semantics import CALLPRO, DATA, NOW

NAME = "Field Staff O'Neill"
QUOTED = "'Field Staff O''Neill'"
DN = "CN=Field Staff O'Neill,OU=Groups,DC=contoso,DC=com"
IDENTITY = "contoso.com/Groups/Field Staff O'Neill"
AD = "contoso.com/Users/Ad Viseur"
BEA = "contoso.com/Users/Bea Buiten"
ROOM = "contoso.com/Users/Meeting Room 1"
SHARED = "contoso.com/Users/HR Shared"
SALES = "contoso.com/Groups/Sales Office"
ALL_STAFF = "contoso.com/Groups/All Staff"


@pytest.fixture(scope="module")
def base() -> Snapshot:
    """The compliant snapshot with its field staff group renamed NAME and holding Ad Viseur and Bea Buiten."""
    snap = load(DATA / "compliant.snapshot.json")[0]
    group = dataclasses.replace(
        snap.groups[0],
        name=NAME,
        display_name=NAME,
        identity=IDENTITY,
        distinguished_name=DN,
        primary_smtp_address="FieldStaff@contoso.com",
        members=(AD, BEA),
    )
    return dataclasses.replace(snap, groups=(group, *snap.groups[1:]))


@pytest.fixture(scope="module")
def seed() -> LoadedPolicy:
    return load_policy(CALLPRO)


def exactly(*addresses: str) -> MemberExpectation:
    return MemberExpectation(exactly=frozenset(addresses), at_least=frozenset(), at_most=None, source="policy")


def bounded(at_least: tuple[str, ...], at_most: tuple[str, ...] | None, source: str = "policy") -> MemberExpectation:
    return MemberExpectation(
        exactly=None,
        at_least=frozenset(at_least),
        at_most=frozenset(at_most) if at_most is not None else None,
        source=source,
    )


TWO = exactly("ad.viseur@contoso.com", "bea.buiten@contoso.com")


def policy(seed: LoadedPolicy, members: MemberExpectation = TWO, name: str = NAME, **group: object) -> LoadedPolicy:
    spec = seed.spec.group
    assert spec is not None
    new_group = spec.model_copy(update={"name": name, **group})
    return dataclasses.replace(seed, spec=seed.spec.model_copy(update={"group": new_group}), expected_members=members)


def ctx(snap: Snapshot, pol: LoadedPolicy) -> Context:
    return Context(policy=pol, snapshot=snap, directory=Directory(snap), now=NOW)


def with_group(snap: Snapshot, **changes: Any) -> Snapshot:
    return dataclasses.replace(snap, groups=(dataclasses.replace(snap.groups[0], **changes), *snap.groups[1:]))


def line(g: Group) -> str:
    return (
        f"Group Identity={g.identity!r} DistinguishedName={g.distinguished_name!r} "
        f"RecipientTypeDetails={g.recipient_type_details} GroupType={g.group_type!r} "
        f"HiddenFromAddressListsEnabled={g.hidden_from_address_lists_enabled} "
        f"MemberJoinRestriction={g.member_join_restriction} MemberDepartRestriction={g.member_depart_restriction} "
        f"Members={len(g.members)}"
    )


# The group's evidence line ---------------------------------------------------------------------------------------


def test_the_evidence_line_quotes_every_fact_of_the_group(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, hidden_from_address_lists_enabled=None, member_join_restriction="Open")
    found = checks.exa034(ctx(snap, policy(seed)))
    assert found.evidence == (
        'Group Identity="contoso.com/Groups/Field Staff O\'Neill" '
        'DistinguishedName="CN=Field Staff O\'Neill,OU=Groups,DC=contoso,DC=com" '
        "RecipientTypeDetails=MailUniversalSecurityGroup GroupType='Universal, SecurityEnabled' "
        "HiddenFromAddressListsEnabled=None MemberJoinRestriction=Open MemberDepartRestriction=Closed Members=2",
    )


# No group, or several ---------------------------------------------------------------------------------------------

MISSING = Verdict(
    Status.FAIL,
    "The group does not exist: no group is named or displayed as 'Nobody's Group'.",
    expected="group 'Nobody's Group'",
    actual="not found",
    remediation=(
        "New-DistributionGroup -Name 'Nobody''s Group' -Type Security -MemberJoinRestriction Closed "
        "-MemberDepartRestriction Closed\n"
        "Set-DistributionGroup -Identity 'Nobody''s Group' -HiddenFromAddressListsEnabled $true"
    ),
)


@pytest.mark.parametrize("check", [checks.exa030, checks.exa031, checks.exa032, checks.exa034, checks.exa035])
def test_a_missing_group_fails_with_the_commands_that_create_it(
    base: Snapshot, seed: LoadedPolicy, check: object
) -> None:
    assert callable(check)
    assert check(ctx(base, policy(seed, name="Nobody's Group"))) == MISSING


def test_exa033_adds_the_required_members_to_the_group_it_creates(base: Snapshot, seed: LoadedPolicy) -> None:
    found = checks.exa033(ctx(base, policy(seed, exactly("b@contoso.com", "a@contoso.com"), name="Nobody's Group")))
    assert found == dataclasses.replace(
        MISSING,
        remediation=MISSING.remediation
        + "\nAdd-DistributionGroupMember -Identity 'Nobody''s Group' -Member 'a@contoso.com' "
        "-BypassSecurityGroupManagerCheck"
        "\nAdd-DistributionGroupMember -Identity 'Nobody''s Group' -Member 'b@contoso.com' "
        "-BypassSecurityGroupManagerCheck",
    )


@pytest.mark.parametrize(
    "check", [checks.exa030, checks.exa031, checks.exa032, checks.exa033, checks.exa034, checks.exa035]
)
def test_two_groups_of_the_name_are_an_error_without_a_fix(base: Snapshot, seed: LoadedPolicy, check: object) -> None:
    twin = dataclasses.replace(
        base.groups[0],
        identity="contoso.com/Groups/Field Staff 2",
        distinguished_name="CN=Field Staff 2,OU=Groups,DC=contoso,DC=com",
    )
    snap = dataclasses.replace(base, groups=(*base.groups, twin))
    problem = (
        f"2 groups are named or displayed as '{NAME}' "
        "(\"CN=Field Staff O'Neill,OU=Groups,DC=contoso,DC=com\", 'CN=Field Staff 2,OU=Groups,DC=contoso,DC=com')"
    )
    assert callable(check)
    assert check(ctx(snap, policy(seed))) == Verdict(
        Status.ERROR, f"Cannot tell which group the policy means: {problem}.", actual=problem
    )


# EXA030 -------------------------------------------------------------------------------------------------------------

SECURITY_EXPECTED = "RecipientTypeDetails MailUniversalSecurityGroup, GroupType 'Universal, SecurityEnabled'"


def test_exa030_passes_a_universal_security_group_in_any_case(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="mailuniversalsecuritygroup", group_type="UNIVERSAL,securityenabled")
    found = checks.exa030(ctx(snap, policy(seed)))
    assert found == Verdict(
        Status.PASS,
        f"'{NAME}' is a MailUniversalSecurityGroup.",
        expected=SECURITY_EXPECTED,
        actual="RecipientTypeDetails mailuniversalsecuritygroup, GroupType 'UNIVERSAL,securityenabled'",
        evidence=(line(snap.groups[0]),),
    )


def test_exa030_a_global_group_is_set_universal(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, group_type="Global, SecurityEnabled")
    found = checks.exa030(ctx(snap, policy(seed)))
    assert found == Verdict(
        Status.FAIL,
        f"'{NAME}': GroupType 'Global, SecurityEnabled' is not Universal.",
        expected=SECURITY_EXPECTED,
        actual="RecipientTypeDetails MailUniversalSecurityGroup, GroupType 'Global, SecurityEnabled'",
        evidence=(line(snap.groups[0]),),
        remediation=f"Set-Group -Identity {QUOTED} -Universal",
    )


def test_exa030_a_security_group_that_is_not_mail_enabled_is_enabled(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="UniversalSecurityGroup")
    found = checks.exa030(ctx(snap, policy(seed)))
    assert found == Verdict(
        Status.FAIL,
        f"'{NAME}': RecipientTypeDetails is UniversalSecurityGroup, not MailUniversalSecurityGroup.",
        expected=SECURITY_EXPECTED,
        actual="RecipientTypeDetails UniversalSecurityGroup, GroupType 'Universal, SecurityEnabled'",
        evidence=(line(snap.groups[0]),),
        remediation=f"Enable-DistributionGroup -Identity {QUOTED}",
    )


def test_exa030_a_distribution_group_is_changed_in_active_directory(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="MailUniversalDistributionGroup", group_type="Universal")
    found = checks.exa030(ctx(snap, policy(seed)))
    assert found == Verdict(
        Status.FAIL,
        f"'{NAME}': RecipientTypeDetails is MailUniversalDistributionGroup, not MailUniversalSecurityGroup; "
        "GroupType 'Universal' is not SecurityEnabled.",
        expected=SECURITY_EXPECTED,
        actual="RecipientTypeDetails MailUniversalDistributionGroup, GroupType 'Universal'",
        evidence=(line(snap.groups[0]),),
        remediation="# Exchange cannot change a distribution group into a security group; in Active Directory:\n"
        f"Set-ADGroup -Identity {QUOTED} -GroupCategory Security   # ActiveDirectory module",
    )


def test_exa030_another_kind_of_group_is_recreated(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="", group_type="Universal")
    found = checks.exa030(ctx(snap, policy(seed)))
    assert found == Verdict(
        Status.FAIL,
        f"'{NAME}': RecipientTypeDetails is (empty), not MailUniversalSecurityGroup; "
        "GroupType 'Universal' is not SecurityEnabled.",
        expected=SECURITY_EXPECTED,
        actual="RecipientTypeDetails , GroupType 'Universal'",
        evidence=(line(snap.groups[0]),),
        remediation=f"# Recreate {QUOTED} with New-DistributionGroup -Type Security and move its members",
    )


def test_exa030_a_distribution_group_need_not_be_security_enabled(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="MailUniversalDistributionGroup", group_type="Universal")
    found = checks.exa030(ctx(snap, policy(seed, type="MailUniversalDistributionGroup")))
    assert found == Verdict(
        Status.PASS,
        f"'{NAME}' is a MailUniversalDistributionGroup.",
        expected="RecipientTypeDetails MailUniversalDistributionGroup",
        actual="RecipientTypeDetails MailUniversalDistributionGroup, GroupType 'Universal'",
        evidence=(line(snap.groups[0]),),
    )
    # ... but it must still be universal, and the fix for that comes first.
    snap = with_group(base, recipient_type_details="MailUniversalDistributionGroup", group_type="Global")
    found = checks.exa030(ctx(snap, policy(seed, type="MailUniversalDistributionGroup")))
    assert found.status is Status.FAIL
    assert found.message == f"'{NAME}': GroupType 'Global' is not Universal."
    assert found.remediation == f"Set-Group -Identity {QUOTED} -Universal"


def test_exa030_a_non_universal_group_need_not_be_universal(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, recipient_type_details="MailNonUniversalGroup", group_type="Global")
    found = checks.exa030(ctx(snap, policy(seed, type="MailNonUniversalGroup")))
    assert found.status is Status.PASS
    assert found.message == f"'{NAME}' is a MailNonUniversalGroup."
    assert found.expected == "RecipientTypeDetails MailNonUniversalGroup"


# EXA031 -------------------------------------------------------------------------------------------------------------


def test_exa031_an_unread_flag_is_an_error(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, hidden_from_address_lists_enabled=None)
    assert checks.exa031(ctx(snap, policy(seed))) == Verdict(
        Status.ERROR,
        f"HiddenFromAddressListsEnabled of '{NAME}' was not read (not mail-enabled, "
        "or Get-DistributionGroup did not return it).",
        expected="HiddenFromAddressListsEnabled True",
        actual="not read",
        evidence=(line(snap.groups[0]),),
    )


@pytest.mark.parametrize("want", [True, False])
def test_exa031_passes_when_the_flag_is_the_policys(base: Snapshot, seed: LoadedPolicy, want: bool) -> None:
    snap = with_group(base, hidden_from_address_lists_enabled=want)
    assert checks.exa031(ctx(snap, policy(seed, hidden_from_address_lists=want))) == Verdict(
        Status.PASS,
        f"'{NAME}' has HiddenFromAddressListsEnabled {want}.",
        expected=f"HiddenFromAddressListsEnabled {want}",
        actual=f"HiddenFromAddressListsEnabled {want}",
        evidence=(line(snap.groups[0]),),
    )


def test_exa031_a_visible_group_is_hidden(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, hidden_from_address_lists_enabled=False)
    assert checks.exa031(ctx(snap, policy(seed))) == Verdict(
        Status.FAIL,
        f"'{NAME}' is visible in the address lists (GAL).",
        expected="HiddenFromAddressListsEnabled True",
        actual="HiddenFromAddressListsEnabled False",
        evidence=(line(snap.groups[0]),),
        remediation=f"Set-DistributionGroup -Identity {QUOTED} -HiddenFromAddressListsEnabled $true",
    )


def test_exa031_a_hidden_group_is_shown_when_the_policy_says_so(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, hidden_from_address_lists_enabled=True)
    assert checks.exa031(ctx(snap, policy(seed, hidden_from_address_lists=False))) == Verdict(
        Status.FAIL,
        f"'{NAME}' is hidden from the address lists.",
        expected="HiddenFromAddressListsEnabled False",
        actual="HiddenFromAddressListsEnabled True",
        evidence=(line(snap.groups[0]),),
        remediation=f"Set-DistributionGroup -Identity {QUOTED} -HiddenFromAddressListsEnabled $false",
    )


# EXA032 -------------------------------------------------------------------------------------------------------------

CLOSED = "MemberJoinRestriction Closed, MemberDepartRestriction Closed"


def test_exa032_skips_when_the_policy_allows_open_membership(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, member_join_restriction="Open")
    assert checks.exa032(ctx(snap, policy(seed, membership_closed=False))) == Verdict(
        Status.SKIP, "The policy does not require closed membership (membershipClosed: false)."
    )


@pytest.mark.parametrize(("join", "depart"), [(None, "Closed"), ("Closed", None)])
def test_exa032_an_unread_restriction_is_an_error(
    base: Snapshot, seed: LoadedPolicy, join: str | None, depart: str | None
) -> None:
    snap = with_group(base, member_join_restriction=join, member_depart_restriction=depart)
    assert checks.exa032(ctx(snap, policy(seed))) == Verdict(
        Status.ERROR,
        f"The join/depart restrictions of '{NAME}' were not read.",
        expected=CLOSED,
        actual=f"MemberJoinRestriction {join}, MemberDepartRestriction {depart}",
        evidence=(line(snap.groups[0]),),
    )


def test_exa032_passes_closed_in_any_case(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, member_join_restriction="closed", member_depart_restriction=" CLOSED")
    assert checks.exa032(ctx(snap, policy(seed))) == Verdict(
        Status.PASS,
        f"Membership of '{NAME}' is closed.",
        expected=CLOSED,
        actual="MemberJoinRestriction closed, MemberDepartRestriction  CLOSED",
        evidence=(line(snap.groups[0]),),
    )


@pytest.mark.parametrize(
    ("join", "depart", "said"),
    [
        ("Open", "Closed", "anyone can join (Open)"),
        ("Closed", "ApprovalRequired", "members can leave (ApprovalRequired)"),
        ("ApprovalRequired", "Open", "anyone can join (ApprovalRequired); members can leave (Open)"),
    ],
)
def test_exa032_names_each_open_side(base: Snapshot, seed: LoadedPolicy, join: str, depart: str, said: str) -> None:
    snap = with_group(base, member_join_restriction=join, member_depart_restriction=depart)
    assert checks.exa032(ctx(snap, policy(seed))) == Verdict(
        Status.FAIL,
        f"Membership of '{NAME}' is not closed: {said}.",
        expected=CLOSED,
        actual=f"MemberJoinRestriction {join}, MemberDepartRestriction {depart}",
        evidence=(line(snap.groups[0]),),
        remediation=f"Set-DistributionGroup -Identity {QUOTED} -MemberJoinRestriction Closed "
        "-MemberDepartRestriction Closed",
    )


# EXA033 -------------------------------------------------------------------------------------------------------------


def member(name: str, address: str) -> str:
    return f"member {name} <{address}> (contoso.com/Users/{name})"


def test_exa033_passes_the_policys_list(base: Snapshot, seed: LoadedPolicy) -> None:
    assert checks.exa033(ctx(base, policy(seed))) == Verdict(
        Status.PASS,
        f"The 2 member(s) of '{NAME}' match the policy's list.",
        expected="exactly 2 member(s)",
        actual="2 direct member(s)",
        evidence=(
            line(base.groups[0]),
            member("Ad Viseur", "ad.viseur@contoso.com"),
            member("Bea Buiten", "bea.buiten@contoso.com"),
        ),
    )


def test_exa033_a_member_counts_by_any_of_its_addresses(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, members=(AD, "contoso.com/Users/Fien Field"))
    found = checks.exa033(ctx(snap, policy(seed, exactly("ad.viseur@contoso.com", "fien@contoso.com"))))
    assert found.status is Status.PASS


def test_exa033_a_members_file_and_bounds_are_named(base: Snapshot, seed: LoadedPolicy) -> None:
    members = bounded(
        ("bea.buiten@contoso.com", "ad.viseur@contoso.com"),
        ("ad.viseur@contoso.com",) * 1 + ("bea.buiten@contoso.com", "cor.veld@contoso.com"),
        source="/etc/exaudit/field.txt",
    )
    found = checks.exa033(ctx(base, policy(seed, members)))
    assert found.status is Status.PASS
    assert found.message == f"The 2 member(s) of '{NAME}' match the members file /etc/exaudit/field.txt."
    assert found.expected == "at least ['ad.viseur@contoso.com', 'bea.buiten@contoso.com'], at most 3"
    found = checks.exa033(ctx(base, policy(seed, bounded(("ad.viseur@contoso.com",), None))))
    assert found.status is Status.PASS  # no ceiling: Bea is no stranger
    assert found.expected == "at least ['ad.viseur@contoso.com']"


def test_exa033_a_member_atmost_allows_is_not_unexpected(base: Snapshot, seed: LoadedPolicy) -> None:
    members = bounded(("ad.viseur@contoso.com",), ("ad.viseur@contoso.com", "bea.buiten@contoso.com"))
    assert checks.exa033(ctx(base, policy(seed, members))).status is Status.PASS
    members = bounded(("ad.viseur@contoso.com",), ("ad.viseur@contoso.com",))
    found = checks.exa033(ctx(base, policy(seed, members)))
    assert found.status is Status.FAIL
    assert found.message == (
        f"Members of '{NAME}' differ from the policy's list: unexpected: Bea Buiten <bea.buiten@contoso.com>."
    )


def test_exa033_names_strangers_and_missing_members_with_the_commands(base: Snapshot, seed: LoadedPolicy) -> None:
    hr = dataclasses.replace(
        next(r for r in base.recipients if r.identity == SHARED), display_name="", name="HR Shared Name"
    )
    recipients = tuple(hr if r.identity == SHARED else r for r in base.recipients)
    snap = with_group(
        dataclasses.replace(base, recipients=recipients),
        members=(AD, SHARED, "contoso.com/Users/svcServiceAccount", "contoso.com/Users/Ghost"),
    )
    pol = policy(seed, exactly("ad.viseur@contoso.com", "zed@contoso.com", "bea.buiten@contoso.com"))
    found = checks.exa033(ctx(snap, pol))
    unexpected = (
        "HR Shared Name <hr-shared@contoso.com>, CallPro Service Account <svcServiceAccount@contoso.com>, "
        "contoso.com/Users/Ghost"
    )
    assert found == Verdict(
        Status.FAIL,
        f"Members of '{NAME}' differ from the policy's list: unexpected: {unexpected}; "
        "missing: bea.buiten@contoso.com, zed@contoso.com.",
        expected="exactly 3 member(s)",
        actual=f"4 direct member(s); unexpected: {unexpected}; missing: bea.buiten@contoso.com, zed@contoso.com",
        evidence=(
            line(snap.groups[0]),
            member("Ad Viseur", "ad.viseur@contoso.com"),
            f"member HR Shared Name <hr-shared@contoso.com> ({SHARED})",
            "member CallPro Service Account <svcServiceAccount@contoso.com> (contoso.com/Users/svcServiceAccount)",
            "member contoso.com/Users/Ghost (contoso.com/Users/Ghost)",
        ),
        remediation="\n".join(
            [
                f"Remove-DistributionGroupMember -Identity {QUOTED} -Member 'hr-shared@contoso.com' "
                "-BypassSecurityGroupManagerCheck -Confirm:$false",
                f"Remove-DistributionGroupMember -Identity {QUOTED} -Member 'svcServiceAccount@contoso.com' "
                "-BypassSecurityGroupManagerCheck -Confirm:$false",
                f"Remove-DistributionGroupMember -Identity {QUOTED} -Member 'contoso.com/Users/Ghost' "
                "-BypassSecurityGroupManagerCheck -Confirm:$false",
                f"Add-DistributionGroupMember -Identity {QUOTED} -Member 'bea.buiten@contoso.com' "
                "-BypassSecurityGroupManagerCheck",
                f"Add-DistributionGroupMember -Identity {QUOTED} -Member 'zed@contoso.com' "
                "-BypassSecurityGroupManagerCheck",
            ]
        ),
    )


def test_exa033_a_stranger_that_is_a_user_is_named_by_its_name(base: Snapshot, seed: LoadedPolicy) -> None:
    user = dataclasses.replace(base.users[0], identity="contoso.com/Users/Nomail", name="No Mail User",
                               distinguished_name="CN=Nomail,CN=Users,DC=contoso,DC=com",
                               user_principal_name="nomail@contoso.com", sam_account_name="nomail",
                               windows_email_address="")  # fmt: skip
    snap = with_group(dataclasses.replace(base, users=(*base.users, user)), members=(AD, BEA, user.identity))
    found = checks.exa033(ctx(snap, policy(seed)))
    assert found.message == f"Members of '{NAME}' differ from the policy's list: unexpected: No Mail User."
    assert found.evidence[-1] == "member No Mail User (contoso.com/Users/Nomail)"


def test_exa033_lists_at_most_fifty_members_as_evidence(base: Snapshot, seed: LoadedPolicy) -> None:
    ghosts = tuple(f"contoso.com/Users/Ghost {i:02}" for i in range(51))
    snap = with_group(base, members=(AD, BEA, *ghosts))
    found = checks.exa033(ctx(snap, policy(seed)))
    assert len(found.evidence) == 51
    assert found.evidence[-1] == "member contoso.com/Users/Ghost 47 (contoso.com/Users/Ghost 47)"
    assert found.actual.startswith("53 direct member(s); unexpected: contoso.com/Users/Ghost 00, ")
    assert found.actual.endswith(", contoso.com/Users/Ghost 24 and 26 more")


# EXA034 -------------------------------------------------------------------------------------------------------------


def test_exa034_passes_without_nested_groups(base: Snapshot, seed: LoadedPolicy) -> None:
    assert checks.exa034(ctx(base, policy(seed))) == Verdict(
        Status.PASS,
        f"'{NAME}' has no nested groups.",
        expected="no nested groups",
        actual="none",
        evidence=(line(base.groups[0]),),
    )


def _nested(base: Snapshot) -> Snapshot:
    """Field staff holds Ad, Sales Office (Gijs, Ivo, Ghost, Inner) and Inner (Gijs, Jet); Inner is in Sales Office."""
    inner = dataclasses.replace(
        base.groups[1],
        name="Inner",
        display_name="Inner",
        identity="contoso.com/Groups/Inner",
        distinguished_name="CN=Inner,OU=Groups,DC=contoso,DC=com",
        primary_smtp_address="Inner@contoso.com",
        members=("contoso.com/Users/Gijs Grond", "contoso.com/Users/Jet Janssen"),
    )
    sales = dataclasses.replace(
        base.groups[1],
        members=("contoso.com/Users/Gijs Grond", "contoso.com/Users/Ivo Intern", "contoso.com/Users/Ghost",
                 inner.identity),
    )  # fmt: skip
    snap = dataclasses.replace(base, groups=(base.groups[0], sales, base.groups[2], inner))
    return with_group(snap, members=(AD, SALES, inner.identity))


def test_exa034_names_each_nested_group_its_stranded_members_and_the_flattening(
    base: Snapshot, seed: LoadedPolicy
) -> None:
    snap = _nested(base)
    allowed = bounded(("ad.viseur@contoso.com",), ("ad.viseur@contoso.com", "gijs.grond@contoso.com",
                                                     "jet.janssen@contoso.com"))  # fmt: skip
    found = checks.exa034(ctx(snap, policy(seed, allowed)))
    gijs, ivo, jet = (
        "Gijs Grond <gijs.grond@contoso.com>",
        "Ivo Intern <ivo.intern@contoso.com>",
        "Jet Janssen <jet.janssen@contoso.com>",
    )
    stranded = f"{gijs}, {ivo}, contoso.com/Users/Ghost, {jet}, {gijs}, {jet}"
    assert found == Verdict(
        Status.FAIL,
        f"'{NAME}' contains nested group(s) 'Sales Office', 'Inner'; MemberOfGroup is not recursive, so their "
        f"6 member(s) are silently out of scope: {stranded}.",
        expected="no nested groups",
        actual="nested: 'Sales Office', 'Inner'",
        evidence=(
            line(snap.groups[0]),
            f"nested 'Sales Office' ({SALES}): 4 member(s) out of scope: {gijs}, {ivo}, contoso.com/Users/Ghost, "
            f"{jet}; nested deeper: 1",
            f"nested 'Inner' (contoso.com/Groups/Inner): 2 member(s) out of scope: {gijs}, {jet}",
        ),
        remediation="# Flatten: add the nested members the policy expects directly, then remove the nested group.\n"
        + "\n".join(
            [
                f"Add-DistributionGroupMember -Identity {QUOTED} -Member 'gijs.grond@contoso.com' "
                "-BypassSecurityGroupManagerCheck",
                f"Add-DistributionGroupMember -Identity {QUOTED} -Member 'jet.janssen@contoso.com' "
                "-BypassSecurityGroupManagerCheck",
                f"Remove-DistributionGroupMember -Identity {QUOTED} -Member 'Sales Office' "
                "-BypassSecurityGroupManagerCheck -Confirm:$false",
                f"Remove-DistributionGroupMember -Identity {QUOTED} -Member 'Inner' "
                "-BypassSecurityGroupManagerCheck -Confirm:$false",
            ]
        ),
    )


# EXA035 -------------------------------------------------------------------------------------------------------------


def _retyped(
    snap: Snapshot, identity: str, kind: str, *, mailbox: bool = True, disabled: bool | None = None
) -> Snapshot:
    """The recipient's type changed; its mailbox record too (or dropped when ``mailbox`` is False)."""
    recipients = tuple(
        dataclasses.replace(r, recipient_type_details=kind) if r.identity == identity else r for r in snap.recipients
    )
    mailboxes: list[Mailbox] = []
    for m in snap.mailboxes:
        if m.identity != identity:
            mailboxes.append(m)
        elif mailbox:
            changed = dataclasses.replace(m, recipient_type_details=kind)
            if disabled is not None:
                changed = dataclasses.replace(changed, account_disabled=disabled)
            mailboxes.append(changed)
    return dataclasses.replace(snap, recipients=recipients, mailboxes=tuple(mailboxes))


def test_exa035_passes_mailboxes_of_any_hosted_kind_when_the_policy_names_none(
    base: Snapshot, seed: LoadedPolicy
) -> None:
    snap = with_group(base, members=(AD, SHARED, ROOM, SALES))
    found = checks.exa035(ctx(snap, policy(seed, member_types=None)))
    assert found == Verdict(
        Status.PASS,
        f"All 3 member(s) of '{NAME}' are mailboxes that can be synced.",
        expected="every member a mailbox hosted here, account enabled",
        actual="3 syncable mailbox(es)",
        evidence=(line(snap.groups[0]),),
    )


def test_exa035_passes_the_types_the_policy_names_in_any_case(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(_retyped(base, AD, "usermailbox"), members=(AD, SHARED))
    found = checks.exa035(ctx(snap, policy(seed, member_types=("UserMailbox", "SharedMailbox"))))
    assert found == Verdict(
        Status.PASS,
        f"All 2 member(s) of '{NAME}' are mailboxes that can be synced (UserMailbox or SharedMailbox).",
        expected="every member a UserMailbox or SharedMailbox hosted here, account enabled",
        actual="2 syncable mailbox(es)",
        evidence=(line(snap.groups[0]),),
    )


def _remove(member: str, comment: str) -> str:
    return (
        f"Remove-DistributionGroupMember -Identity {QUOTED} -Member '{member}' "
        f"-BypassSecurityGroupManagerCheck -Confirm:$false   # {comment}"
    )


def test_exa035_names_every_member_that_cannot_be_synced(base: Snapshot, seed: LoadedPolicy) -> None:
    user = dataclasses.replace(base.users[0], identity="contoso.com/Users/Nomail", name="No Mail User",
                               distinguished_name="CN=Nomail,CN=Users,DC=contoso,DC=com",
                               user_principal_name="nomail@contoso.com", sam_account_name="nomail",
                               windows_email_address="")  # fmt: skip
    ivo = "contoso.com/Users/Ivo Intern"
    jet = "contoso.com/Users/Jet Janssen"
    snap = _retyped(base, BEA, "MailUser")
    snap = _retyped(snap, ivo, "UserMailbox", mailbox=False)
    snap = _retyped(snap, jet, "UserMailbox", disabled=True)
    snap = _retyped(snap, SHARED, "SharedMailbox", disabled=True)  # by design: no finding
    snap = dataclasses.replace(snap, users=(*snap.users, user))
    members = (AD, BEA, "contoso.com/Users/Ghost", user.identity, ivo, jet, SHARED)
    snap = with_group(snap, members=members)
    found = checks.exa035(ctx(snap, policy(seed, member_types=None)))
    problems = [
        "Bea Buiten <bea.buiten@contoso.com> is a MailUser, not a mailbox in this organization",
        "contoso.com/Users/Ghost is not a recipient",
        "No Mail User is a user without a mailbox",
        "Ivo Intern <ivo.intern@contoso.com> has no Get-Mailbox record",
        "Jet Janssen <jet.janssen@contoso.com> is a UserMailbox whose account is disabled",
    ]
    assert found == Verdict(
        Status.FAIL,
        f"5 member(s) of '{NAME}' cannot be synced: " + "; ".join(problems) + ".",
        expected="every member a mailbox hosted here, account enabled",
        actual="; ".join(problems),
        evidence=(line(snap.groups[0]),),
        remediation="\n".join(
            _remove(m, "or give it a mailbox") for m in (BEA, "contoso.com/Users/Ghost", user.identity, ivo, jet)
        ),
    )


def test_exa035_the_mailbox_record_tells_the_type(base: Snapshot, seed: LoadedPolicy) -> None:
    """Get-Mailbox says RoomMailbox while Get-Recipient still says UserMailbox: the mailbox record wins."""
    mailboxes = tuple(
        dataclasses.replace(m, recipient_type_details="RoomMailbox") if m.identity == BEA else m for m in base.mailboxes
    )
    snap = with_group(dataclasses.replace(base, mailboxes=mailboxes), members=(AD, BEA))
    found = checks.exa035(ctx(snap, policy(seed, exactly("ad.viseur@contoso.com"), member_types=("UserMailbox",))))
    assert found.actual == "Bea Buiten <bea.buiten@contoso.com> is a RoomMailbox, not UserMailbox (group.memberTypes)"


def test_exa035_a_mailbox_of_another_type_is_named_with_the_fix_that_fits(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, members=(AD, BEA, ROOM, SHARED))
    snap = _retyped(snap, BEA, "SharedMailbox")
    # Bea is one of the policy's members: converting her back is the fix; the room is no one's, so it goes.
    found = checks.exa035(ctx(snap, policy(seed, member_types=("UserMailbox",))))
    problems = [
        "Bea Buiten <bea.buiten@contoso.com> is a SharedMailbox, not UserMailbox (group.memberTypes)",
        "Meeting Room 1 <room1@contoso.com> is a RoomMailbox, not UserMailbox (group.memberTypes)",
        "HR Shared <hr-shared@contoso.com> is a SharedMailbox, not UserMailbox (group.memberTypes)",
    ]
    assert found == Verdict(
        Status.FAIL,
        f"3 member(s) of '{NAME}' are not of the types the policy allows: " + "; ".join(problems) + ".",
        expected="every member a UserMailbox hosted here, account enabled",
        actual="; ".join(problems),
        evidence=(line(snap.groups[0]),),
        remediation="\n".join(
            [
                "# bea.buiten@contoso.com is in the policy's group.members but not a UserMailbox: convert it back, "
                "or take it out of group.members and the group\n"
                "Set-Mailbox -Identity 'bea.buiten@contoso.com' -Type Regular",
                _remove(ROOM, "not a UserMailbox (group.memberTypes)"),
                _remove(SHARED, "not a UserMailbox (group.memberTypes)"),
            ]
        ),
    )


@pytest.mark.parametrize(
    ("kinds", "converted"),
    [
        (
            ("LinkedMailbox", "RoomMailbox", "SharedMailbox"),
            "\nSet-Mailbox -Identity 'bea.buiten@contoso.com' -Type Room",
        ),
        (("LinkedMailbox", "EquipmentMailbox"), "\nSet-Mailbox -Identity 'bea.buiten@contoso.com' -Type Equipment"),
        (("SharedMailbox",), "\nSet-Mailbox -Identity 'bea.buiten@contoso.com' -Type Shared"),
        (("LinkedMailbox",), ""),
    ],
)
def test_exa035_converts_to_the_first_type_set_mailbox_knows(
    base: Snapshot, seed: LoadedPolicy, kinds: tuple[str, ...], converted: str
) -> None:
    snap = with_group(_retyped(base, BEA, "TeamMailbox"), members=(AD, BEA))
    found = checks.exa035(ctx(_retyped(snap, AD, kinds[0]), policy(seed, member_types=kinds)))
    assert found.remediation == (
        f"# bea.buiten@contoso.com is in the policy's group.members but not a {' or '.join(kinds)}: convert it "
        "back, or take it out of group.members and the group" + converted
    )


def test_exa035_mixed_problems_say_both(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(_retyped(base, BEA, "MailUser"), members=(AD, BEA, ROOM))
    found = checks.exa035(ctx(snap, policy(seed, member_types=("UserMailbox",))))
    assert found.message.startswith(
        f"2 member(s) of '{NAME}' cannot be synced or are not of the types the policy allows: "
    )
    assert found.remediation == "\n".join(
        [_remove(BEA, "or give it a mailbox"), _remove(ROOM, "not a UserMailbox (group.memberTypes)")]
    )


def test_exa035_checks_the_members_after_a_nested_group(base: Snapshot, seed: LoadedPolicy) -> None:
    snap = with_group(base, members=(SALES, AD, ROOM))
    found = checks.exa035(ctx(snap, policy(seed, member_types=("UserMailbox",))))
    assert found.status is Status.FAIL
    assert found.actual == "Meeting Room 1 <room1@contoso.com> is a RoomMailbox, not UserMailbox (group.memberTypes)"


def test_exa034_adds_no_member_that_is_not_a_recipient_even_when_anyone_may_be_one(
    base: Snapshot, seed: LoadedPolicy
) -> None:
    """Without a ceiling every address is allowed; a leaf that is no recipient has none to add."""
    found = checks.exa034(ctx(_nested(base), policy(seed, bounded(("ad.viseur@contoso.com",), None))))
    adds = [line for line in found.remediation.splitlines() if line.startswith("Add-")]
    assert adds == [
        f"Add-DistributionGroupMember -Identity {QUOTED} -Member '{address}' -BypassSecurityGroupManagerCheck"
        for address in ("gijs.grond@contoso.com", "ivo.intern@contoso.com", "jet.janssen@contoso.com")
    ]
