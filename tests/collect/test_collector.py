"""The collector as a pure mapping layer behind the runner seam (a fake runner; the e2e tests use pypsrp)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from audit.collect import BASE_CALL_COUNT, CmdletResult, ErrorKind, TransportFailure, call_count, collect_state
from audit.collect.interface import require_read_only
from audit.collect.mapping import keep_properties, parse_server_version, to_bool, to_list, to_unlimited_int
from audit.errors import CmdletUnavailableError, CollectionError
from audit.snappack import PACK_MIN, PackedObjects

GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"
RA = "Microsoft.Exchange.Data.Directory.Management.ExchangeRoleAssignmentPresentation"


def _recipient(alias: str, rtd: str = "UserMailbox") -> dict[str, Any]:
    return {
        "Name": alias,
        "Identity": f"contoso.com/Users/{alias}",
        "DistinguishedName": f"CN={alias},CN=Users,DC=contoso,DC=com",
        "Guid": f"guid-{alias}",
        "Alias": alias,
        "DisplayName": alias.title(),
        "PrimarySmtpAddress": f"{alias}@contoso.com",
        "RecipientType": rtd,
        "RecipientTypeDetails": rtd,
        "EmailAddresses": [f"SMTP:{alias}@contoso.com", f"smtp:{alias}@contoso.local"],
        "HiddenFromAddressListsEnabled": False,
        "CustomAttribute1": "",
    }


def canned(mailboxes: int = 3) -> dict[str, list[dict[str, Any]]]:
    aliases = [f"user{i}" for i in range(mailboxes)]
    return {
        "Get-OrganizationConfig": [{"Name": "Contoso", "Identity": "Contoso", "EwsEnabled": None}],
        "Get-ExchangeServer": [
            {"Name": "EX01", "Fqdn": "ex01.contoso.com", "AdminDisplayVersion": "Version 15.2 (Build 1544.4)"}
        ],
        "Get-ThrottlingPolicy": [
            {"Name": "GlobalThrottlingPolicy_1", "ThrottlingPolicyScope": "Global", "EwsMaxConcurrency": "27"},
            {"Name": "Svc", "ThrottlingPolicyScope": "Regular", "EwsMaxConcurrency": "Unlimited"},
        ],
        "Get-ManagementRole": [{"Name": "ApplicationImpersonation", "RoleType": "ApplicationImpersonation"}],
        "Get-ManagementRoleAssignment": [
            {
                "Name": "ApplicationImpersonation-CallPro Calendar Access",
                "Identity": "ApplicationImpersonation-CallPro Calendar Access",
                "Role": "ApplicationImpersonation",
                "RoleAssignee": "contoso.com/Microsoft Exchange Security Groups/CallPro Calendar Access",
                "RoleAssigneeName": "CallPro Calendar Access",
                "RoleAssigneeType": "RoleGroup",
                "AssignmentMethod": "Direct",
                "RoleAssignmentDelegationType": "Regular",
                "Enabled": "True",
                "RecipientWriteScope": "CustomRecipientScope",
                "CustomRecipientWriteScope": "Scope-CallPro Calendar Access",
                "CustomConfigWriteScope": None,
            }
        ],
        "Get-ManagementScope": [
            {
                "Name": "Scope-CallPro Calendar Access",
                "ScopeRestrictionType": "RecipientScope",
                "Exclusive": False,
                "RecipientFilter": f"MemberOfGroup -eq '{GROUP_DN}'",
                "RecipientRoot": None,
            }
        ],
        "Get-RoleGroup": [
            {
                "Name": "CallPro Calendar Access",
                "DisplayName": "",
                "Identity": "contoso.com/Microsoft Exchange Security Groups/CallPro Calendar Access",
                "DistinguishedName": "CN=CallPro Calendar Access,OU=Microsoft Exchange Security Groups,"
                "DC=contoso,DC=com",
                "Guid": "rg",
                "RoleGroupType": "Standard",
                "Roles": ["ApplicationImpersonation"],
                "RoleAssignments": ["ApplicationImpersonation-CallPro Calendar Access"],
                "Members": ["contoso.com/Users/svcServiceAccount"],
                "ManagedBy": [],
            }
        ],
        "Get-Group": [
            {
                "Name": "SecurityGroup-CallPro Calendar Access",
                "DisplayName": "SecurityGroup-CallPro Calendar Access",
                "Identity": "contoso.com/Groups/SecurityGroup-CallPro Calendar Access",
                "DistinguishedName": GROUP_DN,
                "Guid": "g1",
                "RecipientTypeDetails": "MailUniversalSecurityGroup",
                "GroupType": "Universal, SecurityEnabled",
                "Members": [f"contoso.com/Users/{a}" for a in aliases[:2]],
            }
        ],
        "Get-DistributionGroup": [
            {
                "Name": "SecurityGroup-CallPro Calendar Access",
                "DistinguishedName": GROUP_DN,
                "Guid": "g1",
                "PrimarySmtpAddress": "callpro@contoso.com",
                "HiddenFromAddressListsEnabled": "True",
                "MemberJoinRestriction": "Closed",
                "MemberDepartRestriction": "Closed",
            }
        ],
        "Get-Recipient": [_recipient(a) for a in aliases],
        "Get-Mailbox": [
            {
                "Name": a,
                "PrimarySmtpAddress": f"{a}@contoso.com",
                "RecipientTypeDetails": "UserMailbox",
                "AccountDisabled": "False",
            }
            for a in aliases
        ],
        "Get-User": [
            {
                "Name": "svcServiceAccount",
                "UserPrincipalName": "svcServiceAccount@contoso.com",
                "SamAccountName": "svcServiceAccount",
                "RecipientTypeDetails": "User",
                "AccountDisabled": False,
            }
        ],
    }


class FakeRunner:
    """Returns canned objects; records every call it was asked to make."""

    def __init__(self, outputs: Mapping[str, list[dict[str, Any]]], fail: Mapping[str, Exception] | None = None):
        self.outputs = outputs
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, object]]] = []

    def run(self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: object = None) -> CmdletResult:
        self.calls.append((cmdlet, dict(params)))
        if cmdlet in self.fail:
            raise self.fail[cmdlet]
        objs = self.outputs.get(cmdlet, [])
        types = [(f"Deserialized.Microsoft.Exchange.X.{_cls(cmdlet)}", "System.Object")] * len(objs)
        return CmdletResult(objects=list(objs), type_names=types)

    def close(self) -> None:
        pass


def _cls(cmdlet: str) -> str:
    from audit.collect.mapping import EXPECTED_TYPES

    return EXPECTED_TYPES[cmdlet]


def test_maps_partial_output_to_records() -> None:
    state = collect_state(FakeRunner(canned()), ["svcServiceAccount@contoso.com"])
    assert all(c.ok for c in state.calls), [c.error for c in state.calls if not c.ok]
    (ra,) = state.role_assignments
    assert ra.enabled is True
    assert ra.custom_recipient_write_scope == "Scope-CallPro Calendar Access"
    assert ra.role_assignee_type == "RoleGroup"
    (group,) = state.groups
    assert group.hidden_from_address_lists_enabled is True
    assert group.member_join_restriction == "Closed"
    assert group.primary_smtp_address == "callpro@contoso.com"
    by_alias = {r.alias: r for r in state.recipients}
    assert by_alias["user0"].member_of == (GROUP_DN,)
    assert by_alias["user2"].member_of == ()
    assert by_alias["user0"].email_addresses[0] == "SMTP:user0@contoso.com"
    assert {p.name: p.ews_max_concurrency for p in state.throttling_policies} == {
        "GlobalThrottlingPolicy_1": 27,
        "Svc": None,
    }
    assert state.server_version() == (15, 2, 1544, 4)
    assert state.users[0].user_principal_name == "svcServiceAccount@contoso.com"
    assert len(state.evidence) == len(state.calls)


@pytest.mark.parametrize("mailboxes", [20, 20_000])
def test_call_count_does_not_depend_on_mailboxes(mailboxes: int) -> None:
    runner = FakeRunner(canned(mailboxes))
    state = collect_state(runner, ["svcServiceAccount@contoso.com"])
    assert len(runner.calls) == call_count(1) == BASE_CALL_COUNT + 1 == 12
    assert len(state.calls) == 12
    assert len(state.recipients) == mailboxes


def test_only_get_cmdlets_are_sent() -> None:
    runner = FakeRunner(canned())
    collect_state(runner, ["a@contoso.com", "b@contoso.com", "a@contoso.com"])
    assert all(name.startswith("Get-") for name, _ in runner.calls)
    assert [p for n, p in runner.calls if n == "Get-User"] == [
        {"Identity": "a@contoso.com"},
        {"Identity": "b@contoso.com"},
    ]
    assert ("Get-Recipient", {"ResultSize": "Unlimited"}) in runner.calls


@pytest.mark.parametrize("cmdlet", ["Set-Mailbox", "Remove-ManagementRoleAssignment", "Get", "Get-X; Remove-Y", "iex"])
def test_read_only_guard_refuses_other_verbs(cmdlet: str) -> None:
    with pytest.raises(CollectionError, match="read-only"):
        require_read_only(cmdlet)


def test_failed_call_is_recorded_and_collection_continues() -> None:
    runner = FakeRunner(
        canned(),
        fail={
            "Get-ManagementRoleAssignment": CmdletUnavailableError(
                "Get-ManagementRoleAssignment", "View-Only Configuration", "View-Only Organization Management"
            )
        },
    )
    state = collect_state(runner, ["svc@contoso.com"])
    failed = [c for c in state.calls if not c.ok]
    assert [c.cmdlet for c in failed] == ["Get-ManagementRoleAssignment"]
    assert failed[0].error_kind == ErrorKind.COMMAND_NOT_FOUND
    assert "View-Only Organization Management" in (failed[0].error or "")
    assert state.role_assignments == ()
    assert len(state.recipients) == 3  # the other checks still have their data


def test_fatal_transport_failure_stops_contacting_the_server() -> None:
    runner = FakeRunner(
        canned(), fail={"Get-OrganizationConfig": TransportFailure("authentication failed", ErrorKind.AUTH, fatal=True)}
    )
    state = collect_state(runner, ["svc@contoso.com"])
    assert len(runner.calls) == 1
    assert len(state.calls) == 12
    assert not any(c.ok for c in state.calls)
    assert all(c.error_kind == ErrorKind.AUTH for c in state.calls)


def test_non_terminating_errors_fail_the_call() -> None:
    class Erring(FakeRunner):
        def run(
            self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: object = None
        ) -> CmdletResult:
            result = super().run(cmdlet, params, timeout)
            if cmdlet == "Get-User":
                return CmdletResult([], ["object 'svc' couldn't be found"], ErrorKind.NON_TERMINATING)
            return result

    state = collect_state(Erring(canned()), ["svc@contoso.com"])
    (call,) = [c for c in state.calls if c.cmdlet == "Get-User"]
    assert not call.ok
    assert "couldn't be found" in (call.error or "")


def test_unmappable_output_marks_the_call_failed() -> None:
    outputs = canned()
    outputs["Get-ManagementRoleAssignment"] = [{"Name": "x"}]  # no Role
    state = collect_state(FakeRunner(outputs), ["svc@contoso.com"])
    (call,) = [c for c in state.calls if c.cmdlet == "Get-ManagementRoleAssignment"]
    assert not call.ok
    assert call.error_kind == ErrorKind.UNEXPECTED


def test_a_user_whose_account_state_is_unknown_is_not_taken_as_enabled() -> None:
    outputs = canned()
    outputs["Get-User"] = [{k: v for k, v in outputs["Get-User"][0].items() if k != "AccountDisabled"}]
    state = collect_state(FakeRunner(outputs), ["svcServiceAccount@contoso.com"])
    (call,) = [c for c in state.calls if c.cmdlet == "Get-User"]
    assert not call.ok  # EXA001 then reports ERROR, never "enabled"
    assert "UserAccountControl" in (call.error or "")
    outputs["Get-User"][0]["UserAccountControl"] = "AccountDisabled, NormalAccount"
    state = collect_state(FakeRunner(outputs), ["svcServiceAccount@contoso.com"])
    assert state.users[0].account_disabled is True


def test_a_mailbox_whose_account_state_is_unknown_fails_the_call() -> None:
    outputs = canned()
    del outputs["Get-Mailbox"][0]["AccountDisabled"]
    state = collect_state(FakeRunner(outputs), ["svcServiceAccount@contoso.com"])
    (call,) = [c for c in state.calls if c.cmdlet == "Get-Mailbox"]
    assert not call.ok
    assert "AccountDisabled" in (call.error or "")


def test_unexpected_type_is_refused() -> None:
    class WrongType(FakeRunner):
        def run(
            self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: object = None
        ) -> CmdletResult:
            r = super().run(cmdlet, params, timeout)
            return CmdletResult(r.objects, type_names=[("System.String",)] * len(r.objects))

    state = collect_state(WrongType(canned()), ["svc@contoso.com"])
    assert not any(c.ok for c in state.calls if c.object_count)


def test_value_parsers() -> None:
    assert to_bool("True") is True
    assert to_bool("false") is False
    assert to_bool(None) is None
    assert to_list("{top, person}") == ("top", "person")
    assert to_list(["a", None, ""]) == ("a",)
    assert to_unlimited_int("Unlimited") is None
    assert to_unlimited_int("27") == 27
    assert parse_server_version("Version 15.1 (Build 2507.6)") == (15, 1, 2507, 6)
    assert parse_server_version("15.2.1544.4") == (15, 2, 1544, 4)
    with pytest.raises(CollectionError):
        parse_server_version("Exchange")
    with pytest.raises(CollectionError):
        to_bool("maybe")


def test_fast_deserializer_reads_partial_exchange_objects() -> None:
    from audit.collect.psrp import fast_output_object, plain

    xml = (
        '<Obj RefId="0"><TN RefId="0"><T>Microsoft.Exchange.Data.Directory.Management.WindowsGroup</T>'
        "<T>System.Object</T></TN><ToString>Field Sales</ToString><Props>"
        '<S N="Name">Field_x0020_Sales</S><B N="IsValid">true</B><I32 N="Count">3</I32><Nil N="ManagedBy" />'
        '<G N="Guid">0a00d04e-0336-5e3d-95d6-e5bf2d09324e</G>'
        '<Obj N="Members" RefId="1"><TN RefId="1"><T>Microsoft.Exchange.Data.Directory.ADMultiValuedProperty`1</T>'
        "<T>System.Object</T></TN><LST><S>contoso.com/Users/Ad Viseur</S><S>contoso.com/Users/Bea</S></LST></Obj>"
        '<Obj N="Empty" RefId="2"><TNRef RefId="1" /><LST /></Obj>'
        "</Props></Obj>"
    )
    obj = fast_output_object(xml)
    assert obj is not None
    values = {k: plain(v) for k, v in obj.adapted_properties.items()}
    assert values == {
        "Name": "Field Sales",
        "IsValid": True,
        "Count": 3,
        "ManagedBy": None,
        "Guid": "0a00d04e-0336-5e3d-95d6-e5bf2d09324e",
        "Members": ["contoso.com/Users/Ad Viseur", "contoso.com/Users/Bea"],
        "Empty": [],
    }
    assert obj.types[0].endswith("WindowsGroup")
    # Anything else is left to pypsrp: primitives, System.* objects
    assert fast_output_object("<S>text</S>") is None
    assert (
        fast_output_object('<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T></TN><DCT /></Obj>') is None
    )


def test_large_outputs_are_held_packed_as_evidence_with_the_same_objects() -> None:
    outputs = canned(PACK_MIN + 50)
    state = collect_state(FakeRunner(outputs), ["svcServiceAccount@contoso.com"])
    evidence = {e.cmdlet: e.objects for e in state.evidence}
    for cmdlet in ("Get-Recipient", "Get-Mailbox"):
        assert isinstance(evidence[cmdlet], PackedObjects)
        assert evidence[cmdlet] == tuple(keep_properties(cmdlet, outputs[cmdlet]))
    assert type(evidence["Get-Group"]) is tuple
    assert len(state.recipients) == PACK_MIN + 50


def test_mailboxes_share_their_recipients_strings_with_the_same_values() -> None:
    from audit.collect.collector import shared_strings
    from audit.snapshot import Mailbox, Recipient

    def text(*parts: str) -> str:
        return "".join(parts)  # a new string object each time, as read off the wire

    dn = text("CN=Ad,", "DC=contoso,DC=com")
    recipient = Recipient(
        text("A", "d"), text("contoso.com/Users/", "Ad"), dn, "g", "ad", "Ad", text("ad@", "contoso.com"),
        "UserMailbox", text("User", "Mailbox"),
    )  # fmt: skip
    same = Mailbox(
        text("A", "d"), text("contoso.com/Users/", "Ad"), text("CN=Ad,", "DC=contoso,DC=com"),
        text("ad@", "contoso.com"), text("ad@", "contoso.com"), text("User", "Mailbox"), True, "Svc",
    )  # fmt: skip
    other = Mailbox("Bo", "contoso.com/Users/Bo", text("CN=Bo,", "DC=contoso,DC=com"), "bo@contoso.com", "bo@c", "x")
    renamed = dataclasses.replace(same, name="Ad (old)", user_principal_name="ad@upn.contoso.com")
    shared, alone, partly = shared_strings([same, other, renamed], [recipient])
    assert (shared, alone, partly) == (same, other, renamed)
    assert shared.name is recipient.name
    assert shared.identity is recipient.identity
    assert shared.distinguished_name is recipient.distinguished_name
    assert shared.primary_smtp_address is recipient.primary_smtp_address
    assert shared.user_principal_name is recipient.primary_smtp_address
    assert shared.recipient_type_details is recipient.recipient_type_details
    assert alone is other
    assert partly.name == "Ad (old)"
    assert partly.user_principal_name == "ad@upn.contoso.com"
    assert partly.identity is recipient.identity


def test_equal_custom_attributes_and_memberships_are_one_tuple() -> None:
    state = collect_state(FakeRunner(canned(50)), ["svcServiceAccount@contoso.com"])
    members = [r for r in state.recipients if r.member_of]
    assert len(members) > 1
    assert len({id(r.member_of) for r in members}) == len({r.member_of for r in members})
    assert len({id(r.custom_attributes) for r in state.recipients}) == len(
        {r.custom_attributes for r in state.recipients}
    )


def test_direct_memberships_match_members_by_identity_dn_or_guid_first_recipient_first() -> None:
    from audit.collect.mapping import direct_memberships
    from audit.snapshot import Group

    recipients = [
        {"Identity": "contoso.com/Users/A", "DistinguishedName": "CN=A,DC=contoso", "Guid": "ga"},
        {"Identity": "contoso.com/Users/B", "DistinguishedName": "CN=B,DC=contoso", "Guid": "gb"},
        {"Identity": "contoso.com/Users/A", "DistinguishedName": "CN=A2,DC=contoso", "Guid": "GB"},  # clashes
        {"Identity": "", "DistinguishedName": "CN=C,DC=contoso", "Guid": ""},
    ]

    def group(dn: str, *members: str) -> Group:
        return Group(dn, dn, dn, dn, "g-" + dn, "UniversalSecurityGroup", "Universal", members)

    groups = [
        group("CN=G1", "CONTOSO.COM/users/a", "cn=c,dc=contoso", "nobody"),
        group("CN=G2", "gB", "CN=A2,DC=contoso", "ga"),
        group("CN=G3", "contoso.com/Users/B", "contoso.com/Users/B"),
    ]
    assert direct_memberships(recipients, groups) == {
        0: ("CN=G1", "CN=G2"),  # by identity (any case), then by GUID; the clashing identity is the first's
        1: ("CN=G2", "CN=G3"),  # "gB" is B's GUID before it is the third's; listed twice, counted once
        2: ("CN=G2",),  # its own DN
        3: ("CN=G1",),
    }
