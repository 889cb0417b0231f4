"""`exaudit migrate`: move an ApplicationImpersonation policy to Exchange Online's RBAC for Applications.

From a service-account policy (the how-to's setup: ApplicationImpersonation limited by a management scope) it
writes the Exchange Online policy for the integration's Entra app, with the same scope, group and probes, and the
PowerShell that performs the move, in Microsoft's order
(https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac): the service principal pointer, the
scope if it is missing (the same filter, the group's DN resolved when the script runs), the scoped
``Application *`` role assignment, the removal of tenant-wide Entra application permissions that reach mailboxes
(RBAC for Applications is a union with them), the EWS allow list when the app still needs EWS, and the clean-up of
what the how-to left behind. The script is printed, never run.

Pure: a loaded policy in, text out; the CLI reads and writes the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from audit.errors import UsageError
from audit.evaluate.powershell import escape_control, ps, ps_comment
from audit.policy import LoadedPolicy
from audit.policy.model import GUID_PATTERN, MAILBOX_PERMISSION_PREFIXES

# The Graph permission the app's role grants when the policy does not say. ApplicationImpersonation let the
# integration read and write the calendars in scope (the seed books appointments); a calendarWrite probe needs it
# too. A read-only integration passes --permission Calendars.Read.
DEFAULT_PERMISSION = "Calendars.ReadWrite"
EWS_ROLE = "Application EWS.AccessAsApp"
IMPERSONATION = "applicationimpersonation"
# A Graph permission name is dotted (Calendars.ReadWrite, Mail.Read, EWS.AccessAsApp): the bare word "Application"
# (what is left of "Application " typed twice) would make the role "Application Application".
_PERMISSION = re.compile(r"^[A-Za-z][A-Za-z0-9\-_]*(?:\.[A-Za-z0-9\-_]+)+$")


# The on-premises scope's RecipientRoot names an OU of the customer's Active Directory, which Exchange Online does not
# have (its recipients live in the tenant's own OU), so the root is not carried over; said in both outputs so that
# the narrowing it did is not lost silently.
_ROOT_NOTE = (
    "the on-premises scope also had RecipientRoot {root}; Exchange Online has no such OU, so it is not carried over "
    "and the filter alone selects: check that it selects only the intended mailboxes (EXA040)."
)


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """The integration's Entra app: application (client) id, service principal object id, display name."""

    app_id: str
    service_principal_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Migration:
    """What `exaudit migrate` prints: the Exchange Online policy and the PowerShell that performs the move."""

    policy_yaml: str
    powershell: str


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's); control and bidi characters escaped."""
    return escape_control(json.dumps(text, ensure_ascii=False))


def mailbox_permission_regex() -> str:
    """The -match pattern the script uses for Entra app roles that reach mailboxes (the EXA074 classification)."""
    prefixes = sorted(p for p in MAILBOX_PERMISSION_PREFIXES if p.endswith("."))
    whole = sorted(p for p in MAILBOX_PERMISSION_PREFIXES if not p.endswith("."))
    return "^(" + "|".join(re.escape(p[:-1]) for p in prefixes) + r")\.|^(" + "|".join(map(re.escape, whole)) + ")$"


def _check_identity(app: AppIdentity) -> None:
    for flag, value in (("--app-id", app.app_id), ("--service-principal-id", app.service_principal_id)):
        if not re.fullmatch(GUID_PATTERN, value):
            raise UsageError(f"{flag} must be a GUID such as 6233fba6-0198-4277-892f-9275bf728bcc, not {value!r}")
    if app.app_id.casefold() == app.service_principal_id.casefold():
        # The commonest RBAC for Applications mistake: Microsoft warns that they are two different objects.
        raise UsageError(
            "--app-id and --service-principal-id are the same GUID: the service principal id is the Object ID of the "
            "Enterprise application, not the Application (client) ID"
        )
    if not app.display_name.strip():
        raise UsageError("--display-name must not be empty")


def migrate(
    policy: LoadedPolicy,
    app: AppIdentity,
    *,
    permission: str | None = None,
    keep_ews: bool = False,
) -> Migration:
    """The Exchange Online policy and the PowerShell for moving ``policy``'s integration to ``app``."""
    spec = policy.spec
    if spec.principal.app is not None:
        raise UsageError(f"{policy.path}: the policy is already for an Exchange Online app; nothing to migrate")
    if spec.scope is None or spec.grant.scope is None:
        raise UsageError(f"{policy.path}: the policy names no management scope to carry over")
    if spec.grant.role.casefold() != IMPERSONATION:
        raise UsageError(
            f"{policy.path}: grant.role is {spec.grant.role!r}; migrate moves an ApplicationImpersonation setup"
        )
    _check_identity(app)
    if permission is None:
        permission = DEFAULT_PERMISSION
    permission = permission.strip().removeprefix("Application ").strip()
    if not _PERMISSION.fullmatch(permission):
        raise UsageError(f"--permission must be a permission name such as Calendars.ReadWrite, not {permission!r}")
    role = f"Application {permission}"
    return Migration(
        policy_yaml=_policy(policy, app, role, keep_ews),
        powershell=_powershell(policy, app, role, keep_ews),
    )


def _policy(policy: LoadedPolicy, app: AppIdentity, role: str, keep_ews: bool) -> str:
    spec = policy.spec
    assert spec.scope is not None
    name = spec.metadata.name
    new_name = (name[: 253 - 4] if len(name) > 249 else name) + "-exo"
    via = spec.grant.via
    legacy_group = via.role_group.name if via.role_group is not None else None
    lines = [
        "# yaml-language-server: $schema=./mailbox-access-policy.schema.json",
        f"# Written by `exaudit migrate` from {ps_comment(policy.path.name)}: the same scope, group and probes,",
        "# held by the integration's Entra app with RBAC for Applications instead of ApplicationImpersonation.",
        "# https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac",
        "# Review it, run the PowerShell printed with it, then: exaudit validate <this file>",
        "",
        "apiVersion: exaudit/v1",
        "kind: MailboxAccessPolicy",
        "",
        "metadata:",
        f"  name: {_q(new_name)}",
    ]
    if spec.metadata.owner:
        lines.append(f"  owner: {_q(spec.metadata.owner)}")
    description = f"Migrated to Exchange Online RBAC for Applications from {policy.path.name}."
    if spec.metadata.description:
        description = f"{description} Before: {spec.metadata.description}"
    lines += [
        f"  description: {_q(description)}",
        "",
        "principal:",
        "  app:",
        f"    appId: {_q(app.app_id)}",
        f"    servicePrincipalId: {_q(app.service_principal_id)}",
        f"    displayName: {_q(app.display_name)}",
        "",
        "grant:",
        f"  role: {_q(role)}",
        "  via:",
        "    direct: {}                     # applications cannot be role group members",
        f"  scope: {_q(spec.grant.scope or spec.scope.name)}",
        f"  onlyPath: {'true' if spec.grant.only_path else 'false'}",
        f"  otherRolesAllowed: [{_q(EWS_ROLE)}]" if keep_ews else "  otherRolesAllowed: []",
        "",
        "scope:",
        f"  name: {_q(spec.scope.name)}",
        "  recipientFilter:",
    ]
    rf = spec.scope.recipient_filter
    if rf.member_of_group is not None:
        lines.append(f"    memberOfGroup: {_q(rf.member_of_group)}")
    else:
        lines.append(f"    opath: {_q(rf.opath or '')}")
    if spec.scope.recipient_root:
        lines.append(f"  # REVIEW: {ps_comment(_ROOT_NOTE.format(root=spec.scope.recipient_root))}")
    if spec.group is not None:
        g = spec.group
        lines += [
            "",
            "group:",
            f"  name: {_q(g.name)}",
            f"  type: {g.type}",
            f"  hiddenFromAddressLists: {'true' if g.hidden_from_address_lists else 'false'}",
            f"  membershipClosed: {'true' if g.membership_closed else 'false'}",
            "  members:",
        ]
        m = g.members
        if m.file is not None:
            # A members file must sit beside its policy; the new policy may be written elsewhere, so the members
            # are written out (as loaded from the file).
            lines.append(f"    # from {ps_comment(m.file)} beside {ps_comment(policy.path.name)}")
            lines.append(
                "    exactly:" + "".join(f"\n      - {_q(v)}" for v in sorted(policy.expected_members.exactly or ()))
            )
        for key, values in (("exactly", m.exactly), ("atLeast", m.at_least), ("atMost", m.at_most)):
            if values is not None:
                lines.append(f"    {key}:" + ("".join(f"\n      - {_q(v)}" for v in values) if values else " []"))
        if g.member_types is not None:
            lines.append(f"  memberTypes: [{', '.join(g.member_types)}]")
    lines += [
        "",
        "# Entra ID application permissions the app may hold besides its Exchange role: none that reach mailboxes.",
        "entra:",
        "  allowedAppRoles: []",
        "",
        "ews:",
        f"  required: {'true' if keep_ews else 'false'}",
        "",
        "# What ApplicationImpersonation's setup left behind; EXA078 lists it until it is gone.",
        "legacy:",
    ]
    if spec.principal.service_account:
        lines.append(f"  serviceAccount: {_q(spec.principal.service_account)}")
    if legacy_group:
        lines.append(f"  roleGroup: {_q(legacy_group)}")
    if spec.probes is not None:
        p = spec.probes
        allow = " groupMembers" if p.allow == "groupMembers" else "".join(f"\n    - {_q(a)}" for a in p.allow)
        lines += [
            "",
            "# Probes through Microsoft Graph with the app's own credentials: 200 reachable, 403 refused.",
            "probes:",
            f"  allow:{allow}",
            "  deny:",
            "    canaries:" + ("".join(f"\n      - {_q(c)}" for c in p.deny.canaries) or " []"),
            f"    sample: {p.deny.sample}",
            f"  operation: {p.operation}",
        ]
    lines += ["", "waivers: []"]
    if spec.severity:
        lines.append("severity:")
        lines += [f"  {k}: {v}" for k, v in sorted(spec.severity.items())]
    else:
        lines.append("severity: {}")
    return "\n".join(lines) + "\n"


def _powershell(policy: LoadedPolicy, app: AppIdentity, role: str, keep_ews: bool) -> str:
    spec = policy.spec
    assert spec.scope is not None
    scope = spec.scope.name
    sp = ps(app.service_principal_id)
    rf = spec.scope.recipient_filter
    out = [
        f"# exaudit migrate: {ps_comment(policy.path.name)} -> Exchange Online RBAC for Applications.",
        "# Printed, never run. Review it, then run the Exchange part in Exchange Online PowerShell",
        "# (Connect-ExchangeOnline, Organization Management) and the Entra part in Microsoft Graph PowerShell",
        "# (Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All, Application.Read.All,",
        "# User.EnableDisableAccount.All).",
        "# https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac",
        "",
        "# {step}. The service principal pointer: the Enterprise application's Object ID, not the App Registration's",
        f"New-ServicePrincipal -AppId {ps(app.app_id)} -ObjectId {sp} -DisplayName {ps(app.display_name)}",
        "",
        "# {step}. The management scope the ApplicationImpersonation assignment used, created only if missing.",
    ]
    if spec.scope.recipient_root:
        out.append(f"# REVIEW: {ps_comment(_ROOT_NOTE.format(root=spec.scope.recipient_root))}")
    if rf.member_of_group is not None:
        out += [
            f"if (-not (Get-ManagementScope -Identity {ps(scope)} -ErrorAction SilentlyContinue)) {{",
            "    # MemberOfGroup takes the group's distinguished name; it differs per tenant, so it is read here.",
            f"    $dn = (Get-Group -Identity {ps(rf.member_of_group)}).DistinguishedName",
            f"    New-ManagementScope -Name {ps(scope)} -RecipientRestrictionFilter \"MemberOfGroup -eq '$dn'\"",
            "}",
        ]
    else:
        out += [
            f"if (-not (Get-ManagementScope -Identity {ps(scope)} -ErrorAction SilentlyContinue)) {{",
            f"    New-ManagementScope -Name {ps(scope)} -RecipientRestrictionFilter {ps(rf.opath or '')}",
            "}",
        ]
    out += [
        "",
        "# {step}. The scoped role, assigned straight to the app (the only way RBAC for Applications assigns).",
        f"New-ManagementRoleAssignment -App {sp} -Role {ps(role)} -CustomResourceScope {ps(scope)}",
    ]
    if keep_ews:
        out.append(f"New-ManagementRoleAssignment -App {sp} -Role {ps(EWS_ROLE)} -CustomResourceScope {ps(scope)}")
    out += [
        "",
        "# {step}. Entra ID: remove every tenant-wide application permission of the app that reaches mailboxes.",
        "#    Exchange's scoped role and Entra's grants are a union: one of them would undo the scope (EXA074).",
        f"$sp = {sp}",
        "foreach ($grant in Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp -All) {",
        "    $value = ((Get-MgServicePrincipal -ServicePrincipalId $grant.ResourceId).AppRoles |",
        "        Where-Object Id -eq $grant.AppRoleId).Value",
        f"    if ($value -match {ps(mailbox_permission_regex())}) {{",
        "        Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp -AppRoleAssignmentId $grant.Id",
        "    }",
        "}",
    ]
    if keep_ews:
        out += [
            "",
            "# {step}. EWS: from 1 October 2026 only apps in EwsAllowedAppIDs may use EWS; it ends on 1 April 2027.",
            "#    Keep the apps already on the list and add this one.",
            "$allowed = @((Get-OrganizationConfig -RetrieveEwsOperationAccessPolicy).EwsAllowedAppIDs) -ne ''",
            f"Set-OrganizationConfig -EwsEnabled $true -EwsAllowedAppIDs ((@($allowed) + {ps(app.app_id)}) -join ',')",
        ]
    out += [
        "",
        "# {step}. Test Exchange's side (it bypasses the permission cache; the API follows in 30 minutes to 2 hours).",
        f"Test-ServicePrincipalAuthorization -Identity {sp}",
        "",
        "# {step}. Clean up what the ApplicationImpersonation setup left behind (it grants nothing in Exchange Online)",
    ]
    via = spec.grant.via
    if via.role_group is not None:
        out.append(
            f"Remove-RoleGroup -Identity {ps(via.role_group.name)} -BypassSecurityGroupManagerCheck -Confirm:$false"
        )
    else:
        out.append(
            "Get-ManagementRoleAssignment -Role ApplicationImpersonation -GetEffectiveUsers | Format-Table  # review"
        )
    if spec.principal.service_account:
        out.append(f"Update-MgUser -UserId {ps(spec.principal.service_account)} -AccountEnabled:$false")
    out += [
        "",
        "# {step}. Audit the result (after the cache delay) with the Exchange Online policy written with it:",
        "#    exaudit run <that policy> with the Exchange Online target options (docs/operations.md).",
    ]
    return _numbered("\n".join(out) + "\n")


def _numbered(text: str) -> str:
    """Number the script's steps 1, 2, 3... in the order they appear (some steps are only there for EWS)."""
    parts = text.split("# {step}. ")
    return parts[0] + "".join(f"# {n}. {part}" for n, part in enumerate(parts[1:], start=1))
