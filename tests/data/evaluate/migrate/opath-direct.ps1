# exaudit migrate: opath-direct.yaml -> Exchange Online RBAC for Applications.
# Printed, never run. Review it, then run the Exchange part in Exchange Online PowerShell
# (Connect-ExchangeOnline, Organization Management) and the Entra part in Microsoft Graph PowerShell
# (Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All, Application.Read.All,
# User.EnableDisableAccount.All).
# https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac

# 1. The service principal pointer: the Enterprise application's Object ID, not the App Registration's
New-ServicePrincipal -AppId '6233fba6-0198-4277-892f-9275bf728bcc' -ObjectId '7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91' -DisplayName 'CallPro CalendarSync'

# 2. The management scope the ApplicationImpersonation assignment used, created only if missing.
# REVIEW: the on-premises scope also had RecipientRoot contoso.com/Field Sales; Exchange Online has no such OU, so it is not carried over and the filter alone selects: check that it selects only the intended mailboxes (EXA040).
if (-not (Get-ManagementScope -Identity 'Scope Field "Sales"' -ErrorAction SilentlyContinue)) {
    New-ManagementScope -Name 'Scope Field "Sales"' -RecipientRestrictionFilter 'Department -eq ''Field Sales'' -and RecipientTypeDetails -eq ''UserMailbox'''
}

# 3. The scoped role, assigned straight to the app (the only way RBAC for Applications assigns).
New-ManagementRoleAssignment -App '7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91' -Role 'Application Calendars.ReadWrite' -CustomResourceScope 'Scope Field "Sales"'

# 4. Entra ID: remove every tenant-wide application permission of the app that reaches mailboxes.
#    Exchange's scoped role and Entra's grants are a union: one of them would undo the scope (EXA074).
$sp = '7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91'
foreach ($grant in Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp -All) {
    $value = ((Get-MgServicePrincipal -ServicePrincipalId $grant.ResourceId).AppRoles |
        Where-Object Id -eq $grant.AppRoleId).Value
    if ($value -match '^(calendars|contacts|mail\-advanced|mail|mailboxconfigitem|mailboxfolder|mailboxitem|mailboxsettings)\.|^(ews\.accessasapp|full_access_as_app|smtp\.sendasapp)$') {
        Remove-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp -AppRoleAssignmentId $grant.Id
    }
}

# 5. Test Exchange's side (it bypasses the permission cache; the API follows in 30 minutes to 2 hours).
Test-ServicePrincipalAuthorization -Identity '7c3b5a1e-2f4d-4e8a-9b61-0d2e4f6a8c91'

# 6. Clean up what the ApplicationImpersonation setup left behind (it grants nothing in Exchange Online)
Get-ManagementRoleAssignment -Role ApplicationImpersonation -GetEffectiveUsers | Format-Table  # review
Update-MgUser -UserId 'svc-opath@contoso.com' -AccountEnabled:$false

# 7. Audit the result (after the cache delay) with the Exchange Online policy written with it:
#    exaudit run <that policy> with the Exchange Online target options (docs/operations.md).
