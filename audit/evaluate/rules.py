"""Exchange's access rules: what Exchange does, where Microsoft says so, and which checks report it.

docs/checks.md's "Exchange's access rules" is generated from this list (audit.evaluate.catalogue), so the page
cannot name a check that does not exist (tests/evaluate/test_rules.py).

Sources are those compiled, with their provenance, in the project's domain notes (exchange-rbac.md sections 1-3 and
8); the lab implements the same rules on its own, from the same sources, and never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

_PS = "https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/"
_NEW_SCOPE = _PS + "new-managementscope"
_NEW_ASSIGNMENT = _PS + "new-managementroleassignment"
_SET_ASSIGNMENT = _PS + "set-managementroleassignment"
_GET_ASSIGNMENT = _PS + "get-managementroleassignment"
_RECIPIENT_FILTER = "https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties"
_IMPERSONATION = (
    "https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/"
    "impersonation-and-ews-in-exchange"
)
_EWS_REFERENCE = "https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/"
_ROLE_ASSIGNMENTS = "https://learn.microsoft.com/en-us/exchange/permissions/role-assignments"
_APP_RBAC = "https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac"


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One rule of Exchange's access decision: what Exchange does, where Microsoft says so, which checks report it."""

    name: str
    exchange: str  # what Exchange does, in one paragraph
    sources: tuple[str, ...]  # Microsoft's documentation first; an RFC where Exchange defers to one
    checks: tuple[str, ...]  # the check ids that report a tenant breaking or relying on the rule


RULES: tuple[AccessRule, ...] = (
    AccessRule(
        name="Unscoped assignments reach every mailbox",
        exchange=(
            "An ApplicationImpersonation assignment without a recipient scope applies to every mailbox in the "
            "organization; only a recipient scope (custom or exclusive), an OU scope, or for an app a resource "
            "scope or administrative unit limits it."
        ),
        sources=(_IMPERSONATION, _SET_ASSIGNMENT + "#-customrecipientwritescope"),
        checks=("EXA012", "EXA040"),
    ),
    AccessRule(
        name="Assignments add up",
        exchange=(
            "RBAC permissions are additive: every enabled Regular assignment of the role that reaches the account "
            "(directly, through a role group or through a security group) grants its own scope, and the account "
            "reaches the union of them."
        ),
        sources=(_ROLE_ASSIGNMENTS, _GET_ASSIGNMENT + "#-roleassignee"),
        checks=("EXA013", "EXA040"),
    ),
    AccessRule(
        name="Disabled assignments grant nothing",
        exchange="An assignment with Enabled False stays in the directory but grants nothing until it is enabled.",
        sources=(_SET_ASSIGNMENT + "#-enabled",),
        checks=("EXA011", "EXA013", "EXA040"),
    ),
    AccessRule(
        name="Delegating assignments grant nothing",
        exchange=(
            "A Delegating assignment (RoleAssignmentDelegationType Delegating or DelegatingOrgWide, such as "
            "Organization Management's on ApplicationImpersonation) only lets its holder assign the role to "
            "others; it grants no impersonation."
        ),
        sources=(
            _ROLE_ASSIGNMENTS,
            _GET_ASSIGNMENT + "#-delegating",
            "https://learn.microsoft.com/en-us/previous-versions/exchange-server/exchange-150/ff346212(v=exchg.150)",
        ),
        checks=("EXA011", "EXA013", "EXA040"),
    ),
    AccessRule(
        name="Exclusive scopes",
        exchange=(
            "Recipients covered by an exclusive scope (New-ManagementScope -Exclusive) are taken away from every "
            "assignment that does not itself use an exclusive scope containing them: users and groups that are not "
            "assigned such a scope immediately lose access to those recipients, whatever their regular scopes "
            "say. Every exclusive recipient scope of the organization counts, whether or not an assignment uses "
            "it. An assignment made with -ExclusiveRecipientWriteScope shows RecipientWriteScope "
            "ExclusiveRecipientScope with the scope's name in CustomRecipientWriteScope; "
            "Get-ManagementRoleAssignment -CustomRecipientWriteScope lists only regular assignments, "
            "-ExclusiveRecipientWriteScope the exclusive ones. In Exchange Online exclusive scopes do not restrict "
            "apps (RBAC for Applications): a VIP exclusive scope does not keep an app out."
        ),
        sources=(
            _NEW_SCOPE + "#-exclusive",
            _GET_ASSIGNMENT + "#-customrecipientwritescope",
            _GET_ASSIGNMENT + "#-exclusiverecipientwritescope",
            _APP_RBAC,
        ),
        checks=("EXA012", "EXA040", "EXA050"),
    ),
    AccessRule(
        name="RecipientRoot in every accepted form",
        exchange=(
            "A recipient scope's -RecipientRoot limits its filter to the recipients below one organizational unit. "
            "Exchange accepts the OU by any value that identifies it uniquely (name, canonical name such as "
            "contoso.com/Field Sales, distinguished name, GUID) and shows it as an object id in canonical form, "
            "whichever form it was set in; a policy may name it as a DN or a canonical name, and both compare by "
            "the OU they name."
        ),
        sources=(
            _NEW_SCOPE + "#-recipientroot",
            "https://learn.microsoft.com/en-us/previous-versions/office/exchange-server-api/ff344795(v=exchg.150)",
        ),
        checks=("EXA020", "EXA040", "EXA050"),
    ),
    # How the OU shows: DECOMP ExchangeRoleAssignmentPresentation has CustomRecipientWriteScope and no
    # RecipientOrganizationUnitScope; the getter of that name (null CustomRecipientWriteScope for OU) is ECP's
    # RoleAssignmentObjectResolverRow, which exchange-rbac.md 1.3 describes. audit/collect/mapping.py reads it so.
    AccessRule(
        name="OU-scoped assignments",
        exchange=(
            "New-ManagementRoleAssignment -RecipientOrganizationalUnitScope limits an assignment to the recipients "
            "below one OU without a management scope. Exchange keeps the OU in the attribute a custom scope uses: "
            "the assignment shows RecipientWriteScope OU and the OU, in canonical form, in "
            "CustomRecipientWriteScope (Get-ManagementRoleAssignment's output has no RecipientOrganizationUnitScope "
            "property). Set-ManagementRoleAssignment -CustomRecipientWriteScope overwrites the OU scope."
        ),
        sources=(
            _NEW_ASSIGNMENT + "#-recipientorganizationalunitscope",
            _GET_ASSIGNMENT + "#-recipientorganizationalunitscope",
            _SET_ASSIGNMENT + "#-customrecipientwritescope",
            "https://learn.microsoft.com/en-us/previous-versions/office/developer/exchange-server-2010/"
            "ff341234(v=exchg.140)",
        ),
        checks=("EXA012", "EXA040"),
    ),
    AccessRule(
        name="MemberOfGroup takes a DN and is not recursive",
        exchange=(
            "MemberOfGroup is AD's memberOf, which holds direct memberships only: members of a nested group are "
            "outside a MemberOfGroup scope. Its value must be the group's distinguished name; a name, address or "
            "GUID is accepted by the syntax but matches nothing."
        ),
        sources=(
            _RECIPIENT_FILTER + "#memberofgroup",
            _NEW_ASSIGNMENT + "#-recipientgroupscope",
        ),
        checks=("EXA021", "EXA034", "EXA040"),
    ),
    AccessRule(
        name="Distinguished names compare as LDAP DNs",
        exchange=(
            "A DN in a filter names a directory object, so two spellings of one DN are the same group: attribute "
            "types compare without regard to case, escaped characters (`\\,` and `\\2C`) are the characters they stand "
            "for, and blanks around the separators are not part of the value (the string representation of DNs, "
            "RFC 4514); values compare by their attribute's matching rule, without regard to case for cn, ou and "
            "dc (distinguishedNameMatch, RFC 4517)."
        ),
        sources=(
            _RECIPIENT_FILTER + "#memberofgroup",
            "https://www.rfc-editor.org/rfc/rfc4514",
            "https://www.rfc-editor.org/rfc/rfc4517#section-4.2.15",
        ),
        checks=("EXA021", "EXA040"),
    ),
    AccessRule(
        name="A renamed group leaves its scope behind",
        exchange=(
            "Renaming a group changes its CN and so its DN, but a scope's filter is stored as text with the DN it "
            "was given (New-ManagementScope regenerates the filter once, at creation). After the rename the filter "
            "names a DN no object has and selects no one, until Set-ManagementScope gives it the new DN."
        ),
        sources=(_RECIPIENT_FILTER + "#memberofgroup", _PS + "set-managementscope"),
        checks=("EXA021", "EXA040"),
    ),
    AccessRule(
        name="Recipient types in scope (group.memberTypes)",
        exchange=(
            "MemberOfGroup selects every direct member whatever its RecipientTypeDetails: a shared, room or "
            "equipment mailbox in the group is in scope and can be impersonated like a user mailbox. Mail users, "
            "contacts and remote mailboxes have no mailbox here to impersonate. The policy's group.memberTypes "
            "names the types that belong in the scope."
        ),
        sources=(
            _PS + "get-recipient#-recipienttypedetails",
            "https://learn.microsoft.com/en-us/previous-versions/office/exchange-server-api/ff344739(v=exchg.150)",
        ),
        checks=("EXA035",),
    ),
    AccessRule(
        name="Identities per ConnectingSID form",
        exchange=(
            "EWS impersonation names the mailbox in ConnectingSID by exactly one of PrincipalName (the UPN), SID, "
            "PrimarySmtpAddress or SmtpAddress, and each form is resolved by its own attribute: a UPN that equals "
            "another user's SMTP address still names the user with that UPN. An address that resolves to no "
            "mailbox is ErrorNonExistentMailbox, which says nothing about the scope."
        ),
        sources=(_EWS_REFERENCE + "connectingsid", _EWS_REFERENCE + "exchangeimpersonation"),
        checks=("EXA050", "EXA051"),
    ),
    AccessRule(
        name="Only ErrorImpersonateUserDenied proves a mailbox out of scope",
        exchange=(
            "ErrorImpersonateUserDenied means the account may not impersonate that user (outside the scope); "
            "ErrorImpersonationDenied means it holds no impersonation right at all, and errors such as "
            "ErrorNonExistentMailbox or ErrorServerBusy prove nothing about the scope."
        ),
        sources=(_EWS_REFERENCE + "responsecode",),
        checks=("EXA050", "EXA051"),
    ),
    AccessRule(
        name="A canary sample is capped by the recipients that exist",
        exchange=(
            "Exchange can only refuse a recipient that exists: a sample of recipients outside the scope "
            "(probes.deny.sample) larger than their number is complete when every one of them was probed and "
            "refused with ErrorImpersonateUserDenied. The finding says the sample was capped; with no recipient "
            "outside the scope at all, nothing was proven refused, and it says that too."
        ),
        sources=(_EWS_REFERENCE + "responsecode", _RECIPIENT_FILTER + "#memberofgroup"),
        checks=("EXA051",),
    ),
)
