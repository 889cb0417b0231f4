"""EXA021 (audit.evaluate.scope.exa021) branch by branch, every field of the finding asserted whole.

Issue 14's mutation run left EXA021's messages, evidence and fixes unguarded: a finding that names the wrong group,
drops the typo hint or gives the wrong fix was still "FAIL". Each test changes one thing on the compliant snapshot
(tests/data/snapshots/compliant.snapshot.json) and the CallPro policy (policies/callpro.yaml). MemberOfGroup takes
a DN and a DN that names no object matches no one
(https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties#memberofgroup).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load
from tests.evaluate.test_reach import ROOT, finding

SCOPE = "Scope-CallPro Calendar Access"
GROUP = "SecurityGroup-CallPro Calendar Access"
DN = f"CN={GROUP},OU=Groups,DC=contoso,DC=com"
SALES_DN = "CN=Sales Office,OU=Groups,DC=contoso,DC=com"
WANTED = f"MemberOfGroup names '{GROUP}'"
SET_FILTER = (
    f"$group = Get-DistributionGroup -Identity '{GROUP}'\n"
    f"Set-ManagementScope -Identity '{SCOPE}' "
    "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
)
NEW_SCOPE = (
    f"$group = Get-DistributionGroup -Identity '{GROUP}'\n"
    f"New-ManagementScope -Name '{SCOPE}' "
    "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
)
GROUP_LINE = f"Group Identity='contoso.com/Groups/{GROUP}' DistinguishedName='{DN}'"


def scope_line(recipient_filter: str) -> str:
    shown = repr(recipient_filter)
    return (
        f"ManagementScope Name='{SCOPE}' ScopeRestrictionType=RecipientScope Exclusive=False RecipientRoot='' "
        f"RecipientFilter={shown}"
    )


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


OPATH = (f"    memberOfGroup: {GROUP}\n", f"    opath: \"MemberOfGroup -eq '{DN}'\"\n")
# One more expected member that no group has: no group's members match, so none looks like the renamed one.
UNMATCHED = ("      - fien.field@contoso.com\n", "      - fien.field@contoso.com\n      - nobody@contoso.com\n")


def edited(tmp_path: Path, *edits: tuple[str, str]) -> LoadedPolicy:
    """policies/callpro.yaml with each (old, new) text replaced once."""
    text = (ROOT / "policies" / "callpro.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = tmp_path / "edited.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


@pytest.fixture
def opath_policy(tmp_path: Path) -> LoadedPolicy:
    """The CallPro policy whose scope filter is an OPATH text (no memberOfGroup: EXA021 expects no group)."""
    return edited(tmp_path, OPATH)


@pytest.fixture
def unmatched_policy(tmp_path: Path) -> LoadedPolicy:
    return edited(tmp_path, UNMATCHED)


def filtered(snap: Snapshot, recipient_filter: str | None) -> Snapshot:
    return dataclasses.replace(
        snap, scopes=tuple(dataclasses.replace(s, recipient_filter=recipient_filter) for s in snap.scopes)
    )


def exa021(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return finding(policy, snap, "EXA021")


def test_the_compliant_scope_passes_naming_the_group(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa021(policy, compliant)
    assert found.status is Status.PASS
    assert found.message == f"The filter of '{SCOPE}' names the group(s) '{GROUP}'."
    assert found.expected == WANTED
    assert found.actual == GROUP
    assert found.evidence == (scope_line(f"MemberOfGroup -eq '{DN}'"), GROUP_LINE)


def test_the_group_is_recognised_by_its_display_name(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The portal's internal Name differs from the DisplayName the policy gives: either names the group.
    groups = tuple(dataclasses.replace(g, name="SG-8f3a") if g.name == GROUP else g for g in compliant.groups)
    found = exa021(policy, dataclasses.replace(compliant, groups=groups))
    assert found.status is Status.PASS, found.message
    assert found.actual == "SG-8f3a"


def test_the_group_is_recognised_by_its_name_whatever_its_display_name(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    groups = tuple(
        dataclasses.replace(g, display_name="CallPro field staff") if g.name == GROUP else g for g in compliant.groups
    )
    found = exa021(policy, dataclasses.replace(compliant, groups=groups))
    assert found.status is Status.PASS, found.message
    assert found.actual == GROUP


def test_a_missing_scope_fails_with_the_fix_that_creates_it(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa021(policy, dataclasses.replace(compliant, scopes=()))
    assert found.status is Status.FAIL
    assert found.message == f"The scope '{SCOPE}' does not exist, so no filter names '{GROUP}' (see EXA020)."
    assert found.expected == WANTED
    assert found.actual == "scope does not exist"
    assert found.remediation == f"# Create the scope first (EXA020):\n{NEW_SCOPE}"


def test_two_scopes_of_the_name_are_an_error_without_fix(policy: LoadedPolicy, compliant: Snapshot) -> None:
    twin = dataclasses.replace(compliant.scopes[0], identity="Scope-CallPro Calendar Access (2)")
    found = exa021(policy, dataclasses.replace(compliant, scopes=(*compliant.scopes, twin)))
    assert found.status is Status.ERROR
    assert found.message == f"The scope '{SCOPE}' is ambiguous, so no filter names '{GROUP}' (see EXA020)."
    assert found.expected == WANTED
    assert found.actual == "scope is ambiguous"


@pytest.mark.parametrize("recipient_filter", [None, "", "  "])
def test_a_scope_without_filter_fails_with_the_fix(
    policy: LoadedPolicy, compliant: Snapshot, recipient_filter: str | None
) -> None:
    found = exa021(policy, filtered(compliant, recipient_filter))
    assert found.status is Status.FAIL
    assert found.message == f"The scope '{SCOPE}' has no filter, so no filter names '{GROUP}' (see EXA020)."
    assert found.actual == "scope has no filter"
    assert found.remediation == f"# Create the scope first (EXA020):\n{NEW_SCOPE}"


def test_an_opath_policy_without_scope_skips(opath_policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa021(opath_policy, dataclasses.replace(compliant, scopes=()))
    assert found.status is Status.SKIP
    assert found.message == "The policy's filter names no group and there is no stored filter to read."
    assert found.evidence == ()


def test_an_unreadable_filter_is_an_error_with_the_scope_as_evidence(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa021(policy, filtered(compliant, "MemberOfGroup -eq"))
    assert found.status is Status.ERROR
    assert found.message.startswith(f"Cannot read the stored filter of '{SCOPE}': expected a value")
    assert found.message.endswith(".")
    assert found.evidence == (scope_line("MemberOfGroup -eq"),)


def test_a_filter_without_group_fails_when_the_policy_names_one(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = exa021(policy, filtered(compliant, "Department -eq 'Sales'"))
    assert found.status is Status.FAIL
    assert found.message == f"The filter of '{SCOPE}' names no group, but the policy expects '{GROUP}'."
    assert found.expected == WANTED
    assert found.actual == "Department -eq 'Sales'"
    assert found.evidence == (scope_line("Department -eq 'Sales'"),)
    assert found.remediation == SET_FILTER


def test_a_filter_without_group_skips_when_the_policy_names_none(
    opath_policy: LoadedPolicy, compliant: Snapshot
) -> None:
    found = exa021(opath_policy, filtered(compliant, "Department -eq 'Sales'"))
    assert found.status is Status.SKIP
    assert found.message == "Neither the policy nor the stored filter uses MemberOfGroup."
    assert found.evidence == (scope_line("Department -eq 'Sales'"),)


def test_another_group_is_named_with_both_names(policy: LoadedPolicy, compliant: Snapshot) -> None:
    stored = f"MemberOfGroup -eq '{SALES_DN}'"
    found = exa021(policy, filtered(compliant, stored))
    problem = f"'{SALES_DN}' is the group 'Sales Office', not '{GROUP}'"
    assert found.status is Status.FAIL
    assert found.message == f"The filter of '{SCOPE}': {problem}."
    assert found.expected == WANTED
    assert found.actual == problem
    assert found.evidence == (
        scope_line(stored),
        f"Group Identity='contoso.com/Groups/Sales Office' DistinguishedName='{SALES_DN}'",
    )
    assert found.remediation == SET_FILTER


@pytest.mark.parametrize(
    "typo",
    [
        "CN=SecurityGroup-CallPro Calendar Acess,OU=Groups,DC=contoso,DC=com",
        # An escaped '=' in the CN: the name is everything after the first '=' of the first RDN.
        "CN=SecurityGroup\\=CallPro Calendar Acess,OU=Groups,DC=contoso,DC=com",
    ],
)
def test_a_dn_close_to_a_group_name_is_called_a_typo(policy: LoadedPolicy, compliant: Snapshot, typo: str) -> None:
    found = exa021(policy, filtered(compliant, f"MemberOfGroup -eq '{typo}'"))
    problem = f"{typo!r} matches no group (a typo of '{GROUP}'?): the filter selects no one through it"
    assert found.status is Status.FAIL
    assert found.message == f"The filter of '{SCOPE}': {problem}."
    assert found.actual == problem
    assert found.remediation == SET_FILTER


def test_a_dn_far_from_every_name_with_no_renamed_group_has_no_hint(
    unmatched_policy: LoadedPolicy, compliant: Snapshot
) -> None:
    gone = "CN=Field Staff 2019,OU=Groups,DC=contoso,DC=com"
    found = exa021(unmatched_policy, filtered(compliant, f"MemberOfGroup -eq '{gone}'"))
    problem = f"'{gone}' matches no group: the filter selects no one through it"
    assert found.status is Status.FAIL
    assert found.message == f"The filter of '{SCOPE}': {problem}."
    assert found.actual == problem
    assert found.evidence == (scope_line(f"MemberOfGroup -eq '{gone}'"),)
    assert found.remediation == SET_FILTER


def test_a_far_dn_whose_group_was_renamed_gets_the_rename_fix(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The CN's text is far from every group name; the SecurityGroup's members are the policy's members: renamed.
    old = "CN=Field Staff 2019,OU=Groups,DC=contoso,DC=com"
    found = exa021(policy, filtered(compliant, f"MemberOfGroup -eq '{old}'"))
    assert found.status is Status.FAIL
    assert found.message == (
        f"The filter of '{SCOPE}': '{old}' matches no group: the group was probably renamed to '{GROUP}' (its "
        "members match the policy's group.members), and the filter still names the old DN, so it selects no one."
    )
    assert found.remediation == (
        f"# The group named by the filter was renamed to '{GROUP}': point the scope at its current DN\n{SET_FILTER}"
    )


def test_two_renamed_dns_get_one_fix_each(policy: LoadedPolicy, compliant: Snapshot) -> None:
    a = "CN=Field Staff 2019,OU=Groups,DC=contoso,DC=com"
    b = "CN=Buitendienst,OU=Groups,DC=contoso,DC=com"
    found = exa021(policy, filtered(compliant, f"(MemberOfGroup -eq '{a}') -or (MemberOfGroup -eq '{b}')"))
    assert found.status is Status.FAIL
    fix = f"# The group named by the filter was renamed to '{GROUP}': point the scope at its current DN\n{SET_FILTER}"
    assert found.remediation == f"{fix}\n{fix}"
    assert found.message.count("probably renamed") == 2
    assert "; " in found.actual


def test_several_problems_are_joined_in_the_order_written(policy: LoadedPolicy, compliant: Snapshot) -> None:
    typo = "CN=SecurityGroup-CallPro Calendar Acess,OU=Groups,DC=contoso,DC=com"
    stored = f"(MemberOfGroup -eq '{typo}') -or (MemberOfGroup -eq '{SALES_DN}')"
    found = exa021(policy, filtered(compliant, stored))
    first = f"'{typo}' matches no group (a typo of '{GROUP}'?): the filter selects no one through it"
    second = f"'{SALES_DN}' is the group 'Sales Office', not '{GROUP}'"
    assert found.message == f"The filter of '{SCOPE}': {first}; {second}."
    assert found.actual == f"{first}; {second}"
    assert found.evidence[1:] == (f"Group Identity='contoso.com/Groups/Sales Office' DistinguishedName='{SALES_DN}'",)


def test_a_name_only_somewhat_alike_is_no_typo(unmatched_policy: LoadedPolicy, compliant: Snapshot) -> None:
    # 'Sales Offices North' is 77 % like 'Sales Office': below the 80 % that makes a typo hint.
    other = "CN=Sales Offices North,OU=Groups,DC=contoso,DC=com"
    found = exa021(unmatched_policy, filtered(compliant, f"MemberOfGroup -eq '{other}'"))
    assert found.actual == f"'{other}' matches no group: the filter selects no one through it"


def test_a_renamed_group_is_found_whatever_its_dn_reads(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # A group record without a DN (a snapshot field left empty) whose members are the policy's is still the one
    # the old DN probably named.
    groups = tuple(dataclasses.replace(g, distinguished_name="") if g.name == GROUP else g for g in compliant.groups)
    old = "CN=Field Staff 2019,OU=Groups,DC=contoso,DC=com"
    found = exa021(policy, filtered(dataclasses.replace(compliant, groups=groups), f"MemberOfGroup -eq '{old}'"))
    assert found.status is Status.FAIL
    assert f"the group was probably renamed to '{GROUP}'" in found.message


def test_an_opath_policy_accepts_any_existing_group(opath_policy: LoadedPolicy, compliant: Snapshot) -> None:
    stored = f"(MemberOfGroup -eq '{DN}') -or (MemberOfGroup -eq '{SALES_DN}')"
    found = exa021(opath_policy, filtered(compliant, stored))
    assert found.status is Status.PASS
    assert found.expected == "every MemberOfGroup DN names an existing group"
    assert found.actual == f"{GROUP}, Sales Office"
    assert found.message == f"The filter of '{SCOPE}' names the group(s) '{GROUP}', 'Sales Office'."


def test_an_opath_policy_fails_a_dn_that_names_no_group_without_a_fix(tmp_path: Path, compliant: Snapshot) -> None:
    # No group to point the filter at: the policy names none, so the fix is for people to choose.
    gone = "CN=Field Staff 2019,OU=Groups,DC=contoso,DC=com"
    found = exa021(edited(tmp_path, OPATH, UNMATCHED), filtered(compliant, f"MemberOfGroup -eq '{gone}'"))
    assert found.status is Status.FAIL
    assert found.expected == "every MemberOfGroup DN names an existing group"
    assert found.actual == f"'{gone}' matches no group: the filter selects no one through it"
    assert found.remediation == ""


def test_the_scope_is_found_by_its_identity_as_well(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # find_scope: the policy's scope name may be the scope's Identity while its Name reads otherwise.
    scopes = tuple(dataclasses.replace(s, name="CallPro (renamed)") for s in compliant.scopes)
    found = exa021(policy, dataclasses.replace(compliant, scopes=scopes))
    assert found.status is Status.PASS, found.message
