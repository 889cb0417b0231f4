"""The check registry: every check exaudit decides, with its identity, rationale, remediation and doc link.

The registry is an explicit literal (no subclass scanning), so that ``grep EXA031`` finds everything about a check.
Remediation strings here are templates for a human reading the catalogue; the engine fills the exact PowerShell
for the drift it observed into each Finding. ``needs`` names the cmdlets whose records a check reads: when one of
them failed or was not called during collection, the check reports ERROR instead of judging partial data.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.findings import Severity

_RBAC = "https://learn.microsoft.com/en-us/exchange/permissions/role-assignments"
_SCOPES = "https://learn.microsoft.com/en-us/exchange/permissions/understanding-management-role-scopes"
_IMPERSONATION = (
    "https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/"
    "impersonation-and-ews-in-exchange"
)
_CONFIGURE = (
    "https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/how-to-configure-impersonation"
)
_ROLE_GROUPS = "https://learn.microsoft.com/en-us/exchange/permissions/role-groups"
_FILTER_PROPS = "https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties#memberofgroup"
_SET_DG = "https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-distributiongroup"
_DG_MEMBER = "https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/add-distributiongroupmember"
_APP_RBAC = "https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac"
_RESPONSE_CODES = "https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/responsecode"
_APP_ROLES = "https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac#supported-application-roles"
_APP_UNION = (
    "https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac"
    "#why-does-my-application-still-have-access-to-mailboxes-that-arent-granted-by-the-scope"
)
_APP_TEST = "https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/test-serviceprincipalauthorization"
_AAP = "https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access"
_EWS_ALLOW = "https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-organizationconfig"
_AU = "https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/administrative-units"

# Cmdlet names, spelled as the collector records them in ``Snapshot.calls``.
ASSIGNMENTS = "Get-ManagementRoleAssignment"
SCOPES = "Get-ManagementScope"
ROLE_GROUPS = "Get-RoleGroup"
GROUPS = "Get-Group"
DISTRIBUTION_GROUPS = "Get-DistributionGroup"
RECIPIENTS = "Get-Recipient"
MAILBOXES = "Get-Mailbox"
USERS = "Get-User"
ORGANIZATION = "Get-OrganizationConfig"
SERVERS = "Get-ExchangeServer"
# Exchange Online (RBAC for Applications), over InvokeCommand; and the Entra side over Microsoft Graph, one
# recorded call per logical read.
ROLES = "Get-ManagementRole"
SERVICE_PRINCIPALS = "Get-ServicePrincipal"
AUTHORIZATION = "Test-ServicePrincipalAuthorization"
ACCESS_POLICIES = "Get-ApplicationAccessPolicy"
GRAPH_SERVICE_PRINCIPAL = "Graph:servicePrincipal"
GRAPH_APP_ROLE_ASSIGNMENTS = "Graph:appRoleAssignments"
GRAPH_RESOURCE_APP_ROLES = "Graph:resourceAppRoles"
GRAPH_ADMINISTRATIVE_UNIT_MEMBERS = "Graph:administrativeUnitMembers"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What one check proves, why it matters, how to fix it, and which cmdlets' data it reads."""

    id: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    doc_url: str
    needs: tuple[str, ...]


CHECKS: dict[str, CheckSpec] = {
    "EXA000": CheckSpec(
        id="EXA000",
        title="Waiver expired",
        severity=Severity.MEDIUM,
        rationale=(
            "A waiver accepts a deviation for a limited time. Once it has expired the deviation is no longer "
            "accepted by anyone; the underlying check is evaluated again, and the stale waiver itself is a finding "
            "so that it is either renewed deliberately or removed."
        ),
        remediation="# Fix the waived check, then remove the waiver for {check} from {policy_file}; or renew it.",
        doc_url="",
        needs=(),
    ),
    "EXA001": CheckSpec(
        id="EXA001",
        title="The principal exists and is enabled",
        severity=Severity.HIGH,
        rationale=(
            "Every other check is about what this principal can reach. If the account the integration logs in with "
            "does not exist, is disabled, or is a different object than the one given to the vendor, the audit "
            "would be proving access for the wrong identity."
        ),
        remediation="Enable-ADAccount -Identity '{sam}'   # or correct principal.serviceAccount in the policy",
        doc_url=_CONFIGURE,
        needs=(USERS,),
    ),
    "EXA010": CheckSpec(
        id="EXA010",
        title="The principal holds the role through the path the policy names",
        severity=Severity.HIGH,
        rationale=(
            "An assignment that reaches the principal through an unexpected path (another role group, a direct "
            "assignment) is invisible to whoever manages the intended role group, and survives when the intended "
            "path is cleaned up. The role must come through exactly the path the policy documents."
        ),
        remediation=(
            "New-ManagementRoleAssignment -Role '{role}' -SecurityGroup '{role_group}' "
            "-CustomRecipientWriteScope '{scope}'"
        ),
        doc_url=_RBAC,
        needs=(ASSIGNMENTS, ROLE_GROUPS, GROUPS, USERS),
    ),
    "EXA011": CheckSpec(
        id="EXA011",
        title="The assignment is enabled and Regular",
        severity=Severity.HIGH,
        rationale=(
            "A Delegating assignment only lets its holder assign the role to others; it grants no impersonation. "
            "A disabled assignment grants nothing. Either way the integration does not work, or works through some "
            "other, unaudited path."
        ),
        remediation="Set-ManagementRoleAssignment -Identity '{assignment}' -Enabled $true",
        doc_url=_RBAC,
        needs=(ASSIGNMENTS, ROLE_GROUPS, USERS),
    ),
    "EXA012": CheckSpec(
        id="EXA012",
        title="The assignment is limited by the expected management scope",
        severity=Severity.CRITICAL,
        rationale=(
            "Without a custom recipient write scope, ApplicationImpersonation applies to every mailbox in the "
            "organization: the service account can read and write the CEO's and HR's calendars and mail. The "
            "assignment must carry RecipientWriteScope CustomRecipientScope with exactly the expected scope."
        ),
        remediation="Set-ManagementRoleAssignment -Identity '{assignment}' -CustomRecipientWriteScope '{scope}'",
        doc_url=_CONFIGURE,
        needs=(ASSIGNMENTS, ROLE_GROUPS, USERS),
    ),
    "EXA013": CheckSpec(
        id="EXA013",
        title="No other effective assignment of the role reaches the principal",
        severity=Severity.CRITICAL,
        rationale=(
            "RBAC permissions are additive: a second ApplicationImpersonation assignment (through another role "
            "group, a security group, or directly) with a wider or no scope overrides the careful scoping of the "
            "intended one. Built-in Delegating assignments (e.g. Organization Management's) grant nothing and are "
            "ignored."
        ),
        remediation="Remove-ManagementRoleAssignment -Identity '{assignment}' -Confirm:$false",
        doc_url=_RBAC,
        needs=(ASSIGNMENTS, ROLE_GROUPS, GROUPS, USERS),
    ),
    "EXA014": CheckSpec(
        id="EXA014",
        title="The role group holds exactly the expected roles and members",
        severity=Severity.HIGH,
        rationale=(
            "Every member of the role group gets every role of the role group. An extra member is a second "
            "account that can impersonate; an extra role gives the service account (and every member) more than "
            "impersonation."
        ),
        remediation=(
            "Remove-RoleGroupMember -Identity '{role_group}' -Member '{member}' -Confirm:$false\n"
            "Remove-ManagementRoleAssignment -Identity '{assignment}' -Confirm:$false"
        ),
        doc_url=_ROLE_GROUPS,
        needs=(ROLE_GROUPS, USERS),
    ),
    "EXA015": CheckSpec(
        id="EXA015",
        title="The principal holds no management roles beyond the allowed ones",
        severity=Severity.HIGH,
        rationale=(
            "A service account whose password sits in a vendor's product should hold only what the integration "
            "needs. Any other management role (from any role group, security group or direct assignment) widens "
            "what a leaked credential can do."
        ),
        remediation="Remove-ManagementRoleAssignment -Identity '{assignment}' -Confirm:$false",
        doc_url=_RBAC,
        needs=(ASSIGNMENTS, ROLE_GROUPS, GROUPS, USERS),
    ),
    "EXA020": CheckSpec(
        id="EXA020",
        title="The management scope exists and its filter means the expected filter",
        severity=Severity.CRITICAL,
        rationale=(
            "The scope's RecipientRestrictionFilter decides which mailboxes can be impersonated. Exchange stores a "
            "regenerated form of the filter, so it is compared by meaning (parsed OPATH), not by text; a filter "
            "that means something else reaches other mailboxes."
        ),
        remediation="Set-ManagementScope -Identity '{scope}' -RecipientRestrictionFilter \"{filter}\"",
        doc_url=_SCOPES,
        needs=(SCOPES, GROUPS),
    ),
    "EXA021": CheckSpec(
        id="EXA021",
        title="The group DN named by the scope filter resolves to the expected group",
        severity=Severity.HIGH,
        rationale=(
            "MemberOfGroup takes a distinguished name. A DN built from a misspelled lookup (the seed article's "
            "'Claendar' typo) or copied from another group silently selects no mailboxes or the wrong ones. Renaming "
            "the group changes its DN while the scope's stored filter keeps the old one: when exactly one group has "
            "the policy's members, the finding says the group was probably renamed to it and points the fix at the "
            "scope's filter."
        ),
        remediation=(
            "$g = Get-DistributionGroup -Identity '{group}'\n"
            "Set-ManagementScope -Identity '{scope}' "
            "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($g.DistinguishedName)'\""
        ),
        doc_url=_FILTER_PROPS,
        needs=(SCOPES, GROUPS),
    ),
    "EXA030": CheckSpec(
        id="EXA030",
        title="The group is a mail-enabled universal security group",
        severity=Severity.MEDIUM,
        rationale=(
            "MemberOfGroup only works with groups Exchange recognizes; the setup relies on a "
            "MailUniversalSecurityGroup (GroupType 'Universal, SecurityEnabled'). A distribution group or a "
            "non-universal group behaves differently in filters and mail flow."
        ),
        remediation="# Recreate the group: New-DistributionGroup -Name '{group}' -Type Security, then move members",
        doc_url=_FILTER_PROPS,
        needs=(GROUPS, DISTRIBUTION_GROUPS),
    ),
    "EXA031": CheckSpec(
        id="EXA031",
        title="The group is hidden from address lists",
        severity=Severity.LOW,
        rationale=(
            "The group exists only to define an impersonation scope; visible in the GAL it invites users to mail "
            "it, add it to meetings or ask to join it. Microsoft recommends hiding scope-defining groups."
        ),
        remediation="Set-DistributionGroup -Identity '{group}' -HiddenFromAddressListsEnabled $true",
        doc_url=_SET_DG,
        needs=(GROUPS, DISTRIBUTION_GROUPS),
    ),
    "EXA032": CheckSpec(
        id="EXA032",
        title="The group's membership is closed",
        severity=Severity.HIGH,
        rationale=(
            "Membership of this group is membership of the impersonation scope. With open join, any user can add "
            "their own mailbox to what the service account can reach; with open depart, anyone can leave it."
        ),
        remediation=(
            "Set-DistributionGroup -Identity '{group}' -MemberJoinRestriction Closed -MemberDepartRestriction Closed"
        ),
        doc_url=_SET_DG,
        needs=(GROUPS, DISTRIBUTION_GROUPS),
    ),
    "EXA033": CheckSpec(
        id="EXA033",
        title="The group's members match the policy",
        severity=Severity.HIGH,
        rationale=(
            "Each direct member is a mailbox the service account can impersonate. An unexpected member (an "
            "executive's mailbox) is unintended access; a missing member breaks the integration for that person."
        ),
        remediation=(
            "Add-DistributionGroupMember -Identity '{group}' -Member '{member}' -BypassSecurityGroupManagerCheck\n"
            "Remove-DistributionGroupMember -Identity '{group}' -Member '{member}' "
            "-BypassSecurityGroupManagerCheck -Confirm:$false"
        ),
        doc_url=_DG_MEMBER,
        needs=(GROUPS, RECIPIENTS),
    ),
    "EXA034": CheckSpec(
        id="EXA034",
        title="The group has no nested groups",
        severity=Severity.MEDIUM,
        rationale=(
            "MemberOfGroup matches the AD memberOf attribute, which holds direct memberships only: members of a "
            "nested group are silently out of scope (Microsoft: 'Nested groups will not work'). The people the "
            "admin meant to include cannot be synced, and nothing says so."
        ),
        remediation="Remove-DistributionGroupMember -Identity '{group}' -Member '{nested}' -Confirm:$false",
        doc_url=_FILTER_PROPS,
        needs=(GROUPS, RECIPIENTS),
    ),
    "EXA035": CheckSpec(
        id="EXA035",
        title="Every member is a mailbox that can be synced",
        severity=Severity.MEDIUM,
        rationale=(
            "Only a mailbox hosted in this organization has a calendar EWS can impersonate. Mail users, contacts, "
            "remote mailboxes and disabled user accounts are members the integration will fail on. When the policy "
            "lists group.memberTypes (RecipientTypeDetails, e.g. [UserMailbox] for field staff), a member of another "
            "type is named too: a shared, room or equipment mailbox can be impersonated, but it is not who the "
            "scope is for."
        ),
        remediation="Remove-DistributionGroupMember -Identity '{group}' -Member '{member}' -Confirm:$false",
        doc_url=_IMPERSONATION,
        needs=(GROUPS, RECIPIENTS, MAILBOXES),
    ),
    "EXA040": CheckSpec(
        id="EXA040",
        title="The effective scope equals the expected mailbox set",
        severity=Severity.CRITICAL,
        rationale=(
            "The end-to-end statement: the filter actually on the assignment, evaluated over every mailbox in the "
            "organization, selects exactly the mailboxes the policy names. This catches any mix of scope, filter "
            "and membership drift the individual checks describe piece by piece."
        ),
        remediation="# Follows from the scope, filter and membership fixes above (EXA012, EXA020, EXA033).",
        doc_url=_SCOPES,
        # The principal's paths to the role (Get-User, Get-RoleGroup, Get-Group) decide which scopes apply.
        needs=(ASSIGNMENTS, SCOPES, RECIPIENTS, GROUPS, ROLE_GROUPS, USERS),
    ),
    "EXA050": CheckSpec(
        id="EXA050",
        title="Every in-scope mailbox can be reached by the integration",
        severity=Severity.HIGH,
        rationale=(
            "The configuration only matters if Exchange honours it: a positive probe per expected mailbox proves the "
            "integration works for each person, over the real protocol, with the identity the vendor uses (EWS "
            "impersonation with the service account; for an Exchange Online app, Microsoft Graph with the app's own "
            "credentials)."
        ),
        remediation="# Re-run the probes after fixing the findings above: exaudit run {policy_file}",
        doc_url=_IMPERSONATION,
        needs=(),
    ),
    "EXA051": CheckSpec(
        id="EXA051",
        title="Every canary mailbox is refused",
        severity=Severity.CRITICAL,
        rationale=(
            "A canary is a mailbox that must stay out of reach (the CEO, a shared HR mailbox). If the service "
            "account can impersonate it, the scope does not hold: this is the most severe finding. A refusal for "
            "any other reason than ErrorImpersonateUserDenied proves nothing about the scope; for an Exchange Online "
            "app only Graph's 403 ErrorAccessDenied counts, and a 404 (no mailbox) proves nothing. A sample "
            "(probes.deny.sample) larger than the recipients outside the scope is capped to them: every one of them "
            "refused is a complete sample, and the finding says it was capped."
        ),
        remediation="# Restrict the assignment first (EXA012/EXA013), then re-run: exaudit run {policy_file}",
        doc_url=_RESPONSE_CODES,
        needs=(),
    ),
    "EXA060": CheckSpec(
        id="EXA060",
        title="Platform facts: ApplicationImpersonation and EWS lifecycle",
        severity=Severity.HIGH,
        rationale=(
            "In Exchange Online, ApplicationImpersonation was retired (new assignments blocked from September 2024, "
            "the role removed from February 2025) and EWS is disabled tenant by tenant from 1 October 2026 and "
            "permanently from 1 April 2027. An integration built on them needs RBAC for Applications and Microsoft "
            "Graph before then. Exchange Server on-premises is not affected."
        ),
        remediation=(
            "New-ServicePrincipal -AppId <appId> -ObjectId <objectId>\n"
            "New-ManagementRoleAssignment -App <objectId> -Role 'Application Calendars.ReadWrite' "
            "-CustomResourceScope '{scope}'"
        ),
        doc_url=_APP_RBAC,
        needs=(ORGANIZATION,),
    ),
    "EXA070": CheckSpec(
        id="EXA070",
        title="The app's service principal exists in Entra ID and in Exchange Online, with matching ids",
        severity=Severity.HIGH,
        rationale=(
            "RBAC for Applications grants roles to an Exchange pointer (New-ServicePrincipal) to the app's Entra "
            "service principal. Microsoft warns not to use the App Registrations page's ids: the pointer needs the "
            "enterprise application's Object ID. A pointer made with the AppId as ObjectId, or a policy naming the "
            "wrong object, means the audit (and the grant) is about another identity than the one that signs in."
        ),
        remediation="New-ServicePrincipal -AppId '{app_id}' -ObjectId '{service_principal_id}' -DisplayName '{name}'",
        doc_url=_APP_RBAC,
        needs=(SERVICE_PRINCIPALS, GRAPH_SERVICE_PRINCIPAL),
    ),
    "EXA071": CheckSpec(
        id="EXA071",
        title="The app holds exactly the expected Application roles (judged by what they grant)",
        severity=Severity.HIGH,
        rationale=(
            "Calendar access can come from 'Application Calendars.ReadWrite', 'Application Calendars.Read' or the "
            "composite 'Application Exchange Full Access', which also grants mail, contacts and mailbox settings. "
            "Roles are compared by the permissions Test-ServicePrincipalAuthorization reports in GrantedPermissions, "
            "not by name, so a composite cannot pass for the single role the policy names."
        ),
        remediation="Remove-ManagementRoleAssignment -Identity '{assignment}' -Confirm:$false",
        doc_url=_APP_ROLES,
        needs=(ASSIGNMENTS,),
    ),
    "EXA072": CheckSpec(
        id="EXA072",
        title="Every Application role assignment of the app is scoped",
        severity=Severity.CRITICAL,
        rationale=(
            "An Application role assignment without -CustomResourceScope or -RecipientAdministrativeUnitScope "
            "applies to the whole organization (Test-ServicePrincipalAuthorization shows ScopeType Organization): "
            "the app reaches every mailbox, the CEO's included."
        ),
        remediation="Set-ManagementRoleAssignment -Identity '{assignment}' -CustomResourceScope '{scope}'",
        doc_url=_APP_RBAC,
        needs=(ASSIGNMENTS,),
    ),
    "EXA073": CheckSpec(
        id="EXA073",
        title="The administrative unit the assignment is scoped to holds exactly the expected mailboxes",
        severity=Severity.CRITICAL,
        rationale=(
            "With -RecipientAdministrativeUnitScope the scope is the administrative unit's membership in Entra ID, "
            "maintained by whoever administers the unit (or by a dynamic rule), not by a filter in Exchange. Every "
            "member is a mailbox the app can reach; a missing member breaks the integration for that person."
        ),
        remediation=(
            "New-MgDirectoryAdministrativeUnitMemberByRef -AdministrativeUnitId '{unit}' "
            "-OdataId 'https://graph.microsoft.com/v1.0/users/{member}'\n"
            "Remove-MgDirectoryAdministrativeUnitMemberByRef -AdministrativeUnitId '{unit}' -DirectoryObjectId '{id}'"
        ),
        doc_url=_AU,
        needs=(GRAPH_ADMINISTRATIVE_UNIT_MEMBERS,),
    ),
    "EXA074": CheckSpec(
        id="EXA074",
        title="No Entra application permission reaches mailboxes unscoped",
        severity=Severity.CRITICAL,
        rationale=(
            "Microsoft: 'the assigned permissions are a union operation on the permissions from Microsoft Entra ID "
            "and the permissions assigned in Exchange Online RBAC.' One tenant-wide Calendars.ReadWrite, Mail.* or "
            "full_access_as_app consented in Entra gives the app every mailbox, whatever the Exchange scope says; "
            "Test-ServicePrincipalAuthorization does not show it. As severe as a reachable canary."
        ),
        remediation=(
            "Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId '{service_principal_id}' | "
            "Where-Object AppRoleId -eq '{app_role_id}' | ForEach-Object { "
            "Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId '{service_principal_id}' "
            "-AppRoleAssignmentId $_.Id }"
        ),
        doc_url=_APP_UNION,
        needs=(GRAPH_SERVICE_PRINCIPAL, GRAPH_APP_ROLE_ASSIGNMENTS, GRAPH_RESOURCE_APP_ROLES),
    ),
    "EXA075": CheckSpec(
        id="EXA075",
        title="Application Access Policies do not widen what the app reaches",
        severity=Severity.HIGH,
        rationale=(
            "Application Access Policies (legacy) confine only Entra permissions; RBAC for Applications grants are "
            "added on top. An Entra permission confined by a policy to a wider group than the Exchange scope lets "
            "the app reach that group too ('A and Not A means everything')."
        ),
        remediation="Remove-ApplicationAccessPolicy -Identity '{policy}' -Confirm:$false",
        doc_url=_AAP,
        needs=(ACCESS_POLICIES, GRAPH_APP_ROLE_ASSIGNMENTS, GRAPH_RESOURCE_APP_ROLES),
    ),
    "EXA076": CheckSpec(
        id="EXA076",
        title="Test-ServicePrincipalAuthorization agrees with the expected mailbox set",
        severity=Severity.HIGH,
        rationale=(
            "Test-ServicePrincipalAuthorization -Resource evaluates Exchange's own decision for a mailbox, bypassing "
            "the permission cache: every expected mailbox must be InScope and no canary may be. It leaves out Entra "
            "grants (EXA074), so it complements the probes rather than replacing them."
        ),
        remediation="Test-ServicePrincipalAuthorization -Identity '{service_principal_id}' -Resource '{mailbox}'",
        doc_url=_APP_TEST,
        needs=(AUTHORIZATION,),
    ),
    "EXA077": CheckSpec(
        id="EXA077",
        title="EWS access agrees with whether the app still uses EWS, as of the audit date",
        severity=Severity.HIGH,
        rationale=(
            "Exchange Online blocks EWS tenant by tenant from 1 October 2026 for every app not in EwsAllowedAppIDs "
            "(with EWSEnabled True), and switches EWS off for good on 1 April 2027. An app that still needs EWS must "
            "be on the list until it has moved to Microsoft Graph; an app that does not should not be on it."
        ),
        remediation="Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs '{app_ids}'",
        doc_url=_EWS_ALLOW,
        needs=(ORGANIZATION,),
    ),
    "EXA078": CheckSpec(
        id="EXA078",
        title="Nothing of the ApplicationImpersonation setup is left behind",
        severity=Severity.MEDIUM,
        rationale=(
            "ApplicationImpersonation was removed from Exchange Online in February 2025. What the how-to created "
            "around it (a role group holding the role, a service account with a password in a vendor's product) "
            "grants nothing there any more but is an unowned credential and a confusing trail: listed for clean-up."
        ),
        remediation=(
            "Remove-RoleGroup -Identity '{role_group}' -BypassSecurityGroupManagerCheck -Confirm:$false\n"
            "Update-MgUser -UserId '{service_account}' -AccountEnabled:$false"
        ),
        doc_url=_APP_RBAC,
        needs=(ASSIGNMENTS, ROLE_GROUPS),
    ),
}

APP_CHECKS = frozenset({"EXA070", "EXA071", "EXA072", "EXA073", "EXA074", "EXA075", "EXA076", "EXA077", "EXA078"})
"""Checks about an Exchange Online app principal; SKIP for a serviceAccount policy."""

ORDER: tuple[str, ...] = tuple(sorted(k for k in CHECKS if k != "EXA000"))
"""The checks evaluated for every policy, in report order (EXA000 only appears for an expired waiver)."""
