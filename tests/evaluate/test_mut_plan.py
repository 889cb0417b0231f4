"""`exaudit plan` (audit.evaluate.plan) beyond tests/evaluate/test_plan_output.py and the golden plans.

Killed mutants of issue 14's mutation run: the header of an app principal's plan names both shells; a comment line
of a fix is printed with its control characters escaped (a renamed group's name goes into one raw); a group or
recipient removed twice under two of its names is removed once, the last time, and two different members, or one
member of two different groups, stay two removals (names with a doubled quote, records without a DN, names no
record has); a scope or group that must be created ranks before every other step, and a check this version does
not know ranks last.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import CHECKS, remediation_plan
from audit.evaluate.plan import PLAN_ORDER, _one_removal_per_member, step_rank
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import Snapshot, load
from tests.evaluate.app_snapshot import NOW, exo_policy, grant, online_snapshot
from tests.evaluate.test_renamed_group import _renamed
from tests.evaluate.test_semantics import CALLPRO, DATA

GROUP = "SecurityGroup-CallPro Calendar Access"
NOTE = "# (this member is removed further down, under another name, after what must come first)"


def remove(member: str, group: str = GROUP) -> str:
    """A removal line as EXA033/EXA034 write it (the values quoted by ps())."""
    quoted = (v.replace("'", "''") for v in (group, member))
    return "Remove-DistributionGroupMember -Identity '{}' -Member '{}' -BypassSecurityGroupManagerCheck".format(*quoted)


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def nested() -> Snapshot:
    return load(DATA / "nested-group.snapshot.json")[0]


def test_an_app_principals_plan_names_both_shells() -> None:
    plan = remediation_plan(exo_policy(), online_snapshot(), NOW).splitlines()
    assert plan[2] == (
        "# Review every line; exaudit never runs this. Run it in this order: Exchange cmdlets in Exchange Online "
        "PowerShell, *-Mg* cmdlets in Microsoft Graph PowerShell."
    )


def test_a_control_character_in_a_fixs_comment_line_is_escaped(policy: LoadedPolicy) -> None:
    # EXA021's fix for a renamed group says the group's new name in a comment line, as the directory returns it.
    compliant = load(DATA / "compliant.snapshot.json")[0]
    plan = remediation_plan(policy, _renamed(compliant, "Field Sales\u202e\x1b[2J"), NOW)
    assert "# The group named by the filter was renamed to 'Field Sales\\u202e\\x1b[2J': point" in plan
    assert "\u202e" not in plan
    assert "\x1b" not in plan


def test_a_group_known_only_by_its_group_record_is_removed_once(nested: Snapshot) -> None:
    # Field Sales North and Sales Office have no recipient record here and no DN: only Get-Group's records name
    # them (by identity).
    both = ("Field Sales North", "Sales Office")
    groups = tuple(dataclasses.replace(g, distinguished_name="") if g.name in both else g for g in nested.groups)
    recipients = tuple(r for r in nested.recipients if r.name not in both)
    snap = dataclasses.replace(nested, groups=groups, recipients=recipients)
    lines = [remove("FieldSalesNorth@contoso.com"), remove("Sales Office"), remove("Field Sales North")]
    assert _one_removal_per_member(lines, snap) == [NOTE, lines[1], lines[2]]


def test_a_group_without_an_address_is_known_by_its_names_only(nested: Snapshot) -> None:
    groups = tuple(
        dataclasses.replace(g, primary_smtp_address=None) if g.name == "Field Sales North" else g for g in nested.groups
    )
    recipients = tuple(r for r in nested.recipients if r.name != "Field Sales North")
    snap = dataclasses.replace(nested, groups=groups, recipients=recipients)
    lines = [remove("XXXX"), remove("Field Sales North")]  # XXXX: a name no record has
    assert _one_removal_per_member(lines, snap) == lines


def test_a_recipient_without_a_dn_is_removed_once_and_another_still_is(nested: Snapshot) -> None:
    recipients = tuple(
        dataclasses.replace(r, distinguished_name="") if r.name in ("Ad Viseur", "Bea Buiten") else r
        for r in nested.recipients
    )
    snap = dataclasses.replace(nested, recipients=recipients)
    lines = [remove("ad.viseur@contoso.com"), remove("Bea Buiten"), remove("Ad Viseur")]
    assert _one_removal_per_member(lines, snap) == [NOTE, lines[1], lines[2]]


def test_a_recipient_with_a_quote_in_its_names_is_removed_once(nested: Snapshot) -> None:
    recipients = tuple(
        dataclasses.replace(r, name="Dirk O'Dealer", primary_smtp_address="dirk.o'dealer@contoso.com")
        if r.name == "Dirk Dealer"
        else r
        for r in nested.recipients
    )
    snap = dataclasses.replace(nested, recipients=recipients)
    lines = [remove("dirk.o'dealer@contoso.com"), "Add-DistributionGroupMember -Identity 'x'", remove("Dirk O'Dealer")]
    assert _one_removal_per_member(lines, snap) == [NOTE, lines[1], lines[2]]


def test_a_group_named_two_ways_is_one_group(nested: Snapshot) -> None:
    lines = [remove("Fien Field"), remove("fien.field@contoso.com", "SecurityGroup-CallProCalendarAccess@contoso.com")]
    assert _one_removal_per_member(lines, nested) == [NOTE, lines[1]]


def test_removals_naming_no_known_record_stay_apart(nested: Snapshot) -> None:
    # A member or group no record names is compared by the name the line gives: different names, different steps.
    lines = [
        remove("Fien Field", "Old Group A"),
        remove("Fien Field", "Old Group B"),
        remove("ghost.one@contoso.com"),
        remove("ghost.two@contoso.com"),
    ]
    assert _one_removal_per_member(lines, nested) == lines


def _finding(check_id: str, remediation: str) -> Finding:
    return Finding(check_id, CHECKS[check_id].title, Status.FAIL, Severity.HIGH, "m", "p", remediation=remediation)


def test_creating_a_group_then_a_scope_come_before_every_other_step() -> None:
    group = step_rank(_finding("EXA030", "New-DistributionGroup -Name 'G' -Type Security"))
    new_scope = step_rank(_finding("EXA020", "$group = Get-DistributionGroup 'G'\nNew-ManagementScope -Name 'S'"))
    others = [step_rank(_finding(c, "Set-Something")) for c in PLAN_ORDER]
    assert group < new_scope < min(others)
    assert others == sorted(others)  # PLAN_ORDER is the order


def test_a_check_this_version_does_not_know_comes_last() -> None:
    # A baseline report (audit/drift.py) may hold findings of checks a newer exaudit added.
    unknown = Finding("EXA099", "future", Status.FAIL, Severity.LOW, "m", "p", remediation="Set-Something")
    known = [step_rank(_finding(c, "Set-Something")) for c in PLAN_ORDER]
    assert step_rank(unknown) > max(known)


def test_the_plan_header_quotes_the_policy_file_name(tmp_path: Path, policy: LoadedPolicy) -> None:
    # The header quotes the policy file's name for PowerShell (a name is hostile).
    odd = tmp_path / "it's.yaml"
    odd.write_text(CALLPRO.read_text(encoding="utf-8"), encoding="utf-8")
    plan = remediation_plan(load_policy(odd), load(DATA / "compliant.snapshot.json")[0], NOW)
    assert plan.splitlines()[0] == "# exaudit plan for policy 'callpro-calendar-access' ('it''s.yaml')"


def test_a_hostile_entra_resource_name_stays_inside_its_comment() -> None:
    # resourceDisplayName comes from Graph: another tenant's multi-tenant app names itself.
    hostile = grant("Calendars.ReadWrite", "11111111-2222-3333-4444-555555555555", "Evil\x1b[2J\nRemove-Mailbox *")
    snap = dataclasses.replace(online_snapshot(), app_role_grants=(hostile,))
    plan = remediation_plan(exo_policy(), snap, NOW)
    assert "\x1b" not in plan
    assert not any(line.startswith("Remove-Mailbox") for line in plan.splitlines())
