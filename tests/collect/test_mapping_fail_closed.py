"""A property Exchange did not send is unknown, never a default: the call fails instead (fail closed)."""

from __future__ import annotations

import pytest

from audit.collect import ErrorKind, collect_state
from audit.collect.mapping import to_bool
from audit.snapshot import CollectionCall
from tests.collect.test_collector import FakeRunner, canned

SVC = "svcServiceAccount@contoso.com"


def _call(calls: tuple[CollectionCall, ...], cmdlet: str) -> CollectionCall:
    (call,) = [c for c in calls if c.cmdlet == cmdlet]
    return call


def test_blank_boolean_is_no_value() -> None:
    assert to_bool("") is None
    assert to_bool("  ") is None


def test_assignment_with_blank_enabled_fails_the_call() -> None:
    # Read as False it would be "disabled, grants nothing" and drop out of EXA013.
    outputs = canned()
    outputs["Get-ManagementRoleAssignment"][0]["Enabled"] = ""
    state = collect_state(FakeRunner(outputs), [SVC])
    call = _call(state.calls, "Get-ManagementRoleAssignment")
    assert not call.ok
    assert call.error_kind == ErrorKind.UNEXPECTED
    assert "Enabled" in (call.error or "")


def test_user_with_blank_account_disabled_is_not_taken_as_enabled() -> None:
    outputs = canned()
    outputs["Get-User"][0]["AccountDisabled"] = ""
    state = collect_state(FakeRunner(outputs), [SVC])
    assert not _call(state.calls, "Get-User").ok


@pytest.mark.parametrize(
    ("cmdlet", "prop"),
    [("Get-Group", "Members"), ("Get-RoleGroup", "Members"), ("Get-RoleGroup", "Roles")],
)
def test_membership_not_sent_fails_the_call(cmdlet: str, prop: str) -> None:
    # Read as "no members" a role group would hide the principal's other paths (EXA013, EXA015) and a group
    # would read as empty; an empty list that Exchange did send is still an empty membership.
    outputs = canned()
    del outputs[cmdlet][0][prop]
    state = collect_state(FakeRunner(outputs), [SVC])
    call = _call(state.calls, cmdlet)
    assert not call.ok
    assert prop in (call.error or "")
    outputs = canned()
    outputs[cmdlet][0][prop] = []
    assert _call(collect_state(FakeRunner(outputs), [SVC]).calls, cmdlet).ok


def test_recipient_without_recipient_type_fails_the_call() -> None:
    # EXA040 counts the mailboxes a scope selects by RecipientType: a blank one would drop out of the count.
    outputs = canned()
    del outputs["Get-Recipient"][1]["RecipientType"]
    state = collect_state(FakeRunner(outputs), [SVC])
    assert not _call(state.calls, "Get-Recipient").ok


@pytest.mark.parametrize(
    "cmdlet", ["Get-OrganizationConfig", "Get-ManagementRole", "Get-ManagementRoleAssignment", "Get-RoleGroup"]
)
def test_an_empty_answer_where_exchange_always_has_objects_fails_the_call(cmdlet: str) -> None:
    # Every organization has its configuration object and the built-in roles, role groups and their assignments:
    # none read means the session cannot see them, and "no assignment" would read as "no other path" (EXA013).
    outputs = canned()
    outputs[cmdlet] = []
    state = collect_state(FakeRunner(outputs), [SVC])
    call = _call(state.calls, cmdlet)
    assert not call.ok
    assert call.error_kind == ErrorKind.UNEXPECTED
    assert "no object" in (call.error or "")
