"""The lab's own RBAC reading: impersonation decisions for every scenario's key mailboxes, its OPATH subset."""

from __future__ import annotations

import pytest

from audit.lab.authz import Authorizer, Decision, compile_scope_filter, visible_cmdlets
from audit.lab.server import scenario_path
from audit.lab.tenant import load_tenant

A = Decision.ALLOWED
U = Decision.IMPERSONATE_USER_DENIED
I = Decision.IMPERSONATION_DENIED  # noqa: E741
N = Decision.NO_MAILBOX
SVC = "svcServiceAccount"
FIELD = ["ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur", "fien.field"]

# scenario -> expected decision for: the six field sales mailboxes, ceo, hr-shared, gijs.grond, an unknown address
TABLE: dict[str, tuple[list[Decision], Decision, Decision, Decision]] = {
    "compliant": ([A] * 6, U, U, U),
    "account-disabled": ([A] * 6, U, U, U),  # RBAC unchanged; the login itself is refused (401)
    "unscoped": ([A] * 6, A, A, A),
    "claendar-typo": ([U] * 6, U, U, U),
    "group-visible": ([A] * 6, U, U, U),
    "extra-member": ([A] * 6, A, U, U),
    "missing-member": ([A] * 5 + [U], U, U, U),
    "nested-group": ([A] * 4 + [U, U], U, U, U),
    "second-path": ([A] * 6, A, A, A),
    "delegating-only": ([I] * 6, I, I, I),
    "disabled-assignment": ([I] * 6, I, I, I),
    "excess-roles": ([A] * 6, U, U, U),
    "filter-other-group": ([U] * 6, U, U, A),
    "throttling": ([A] * 6, U, U, U),
    "password-changed": ([A] * 6, U, U, U),
}


@pytest.mark.parametrize("scenario", sorted(TABLE))
def test_impersonation_decisions(scenario: str) -> None:
    tenant = load_tenant(scenario_path(scenario))
    auth = Authorizer(tenant)
    field, ceo, hr, gijs = TABLE[scenario]
    got = [auth.decide(SVC, f"{a}@contoso.com").decision for a in FIELD]
    assert got == field
    assert auth.decide(SVC, "ceo@contoso.com").decision is ceo
    assert auth.decide(SVC, "hr-shared@contoso.com").decision is hr
    assert auth.decide(SVC, "gijs.grond@contoso.com").decision is gijs
    unknown = auth.decide(SVC, "nobody@contoso.com").decision
    assert unknown is (I if field[0] is I else N)
    # The auditor holds no impersonation right anywhere.
    assert auth.decide("exaudit-reader", "ad.viseur@contoso.com").decision is I


def test_nested_role_group_membership_reaches_the_caller() -> None:
    tenant = load_tenant(scenario_path("compliant"))
    auth = Authorizer(tenant)
    # Hygiene Management's unscoped Regular ApplicationImpersonation has no members: it reaches nobody.
    assert [a.name for a in auth.effective_assignments(tenant.account_user(SVC))] == [  # type: ignore[arg-type]
        "ApplicationImpersonation-CallPro Calendar Access"
    ]


def test_reachable_mailboxes_of_the_compliant_scenario() -> None:
    auth = Authorizer(load_tenant(scenario_path("compliant")))
    assert sorted(m.alias for m in auth.reachable_mailboxes(SVC)) == FIELD


@pytest.mark.parametrize(
    ("text", "alias", "expected"),
    [
        ("Alias -eq 'ad.viseur'", "ad.viseur", True),
        ("{Alias -eq 'AD.VISEUR'}", "ad.viseur", True),
        ("Alias -ne 'ad.viseur'", "ad.viseur", False),
        ("Department -like 'Field*'", "ad.viseur", True),
        ("Department -notlike 'Field*'", "ad.viseur", False),
        ("(Department -eq 'Field Sales') -and -not (Alias -eq 'bea.buiten')", "bea.buiten", False),
        ("Alias -eq 'x' -or RecipientTypeDetails -eq 'SharedMailbox'", "hr-shared", True),
        ("PrimarySmtpAddress -eq 'fien@contoso.com'", "fien.field", True),  # proxy addresses are searched too
        ("EmailAddresses -eq 'smtp:fien@contoso.com'", "fien.field", True),
        ("CustomAttribute1 -eq $null", "ad.viseur", True),
        ("MemberOfGroup -eq 'CN=All Staff,OU=Groups,DC=contoso,DC=com'", "ceo", True),
        ("MemberOfGroup -eq 'All Staff'", "ceo", False),  # only a DN matches
        ('Alias -eq "its"', "ad.viseur", False),
    ],
)
def test_own_filter_evaluator(text: str, alias: str, expected: bool) -> None:
    tenant = load_tenant(scenario_path("compliant"))
    predicate = compile_scope_filter(text)
    assert predicate is not None
    user = tenant.resolve_recipient(alias)
    assert user is not None
    assert predicate(tenant, user) is expected


@pytest.mark.parametrize(
    "text", ["", "Alias -gt 'a'", "Manager -eq 'CN=x'", "Alias -eq", "(Alias -eq 'a'", "Alias -eq 'a' junk"]
)
def test_unsupported_filters_match_nothing(text: str, caplog: pytest.LogCaptureFixture) -> None:
    assert compile_scope_filter(text) is None
    assert "matches nothing" in caplog.text


def test_memberofgroup_is_not_recursive() -> None:
    tenant = load_tenant(scenario_path("nested-group"))
    predicate = compile_scope_filter(tenant.scopes[0].recipient_filter)
    assert predicate is not None
    eva = tenant.resolve_recipient("eva.expediteur")
    ad = tenant.resolve_recipient("ad.viseur")
    assert eva is not None
    assert ad is not None
    assert predicate(tenant, ad)
    assert not predicate(tenant, eva)


def test_visible_cmdlets_follow_role_groups() -> None:
    tenant = load_tenant(scenario_path("compliant"))
    reader = visible_cmdlets(tenant, "exaudit-reader")
    assert {"Get-ManagementRoleAssignment", "Get-ManagementScope", "Get-RoleGroupMember", "Get-Mailbox"} <= reader
    assert "Get-ManagementRoleAssignment" not in visible_cmdlets(tenant, SVC)
    assert "Get-ManagementRoleAssignment" in visible_cmdlets(tenant, "Administrator")


def test_memberofgroup_null_is_a_recipient_in_no_group() -> None:
    # memberOf unset = a direct member of no group; the auditor's OPATH evaluator reads it the same way.
    tenant = load_tenant(scenario_path("compliant"))
    unset = compile_scope_filter("MemberOfGroup -eq $null")
    is_set = compile_scope_filter("MemberOfGroup -ne $null")
    assert unset is not None
    assert is_set is not None
    in_groups = [r for r in tenant.recipients if tenant.member_of(r.dn)]
    in_none = [r for r in tenant.recipients if not tenant.member_of(r.dn)]
    assert in_groups
    assert in_none
    assert all(unset(tenant, r) and not is_set(tenant, r) for r in in_none)
    assert all(is_set(tenant, r) and not unset(tenant, r) for r in in_groups)
