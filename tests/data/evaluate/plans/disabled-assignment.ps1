# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 1 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA051 Every canary mailbox is refused: Canaries not proven out of reach: no_impersonation_right ErrorImpersonationDenied The server to which the application is connected cannot impersonate the requested user due to insufficient permission.: ceo@contoso.com, hr-shared@contoso.com.

# EXA011 [high] The assignment is enabled and Regular
#   No assignment of ApplicationImpersonation to 'CallPro Calendar Access' grants anything:
#   'ApplicationImpersonation-CallPro Calendar Access' is disabled.
Set-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access' -Enabled $true

# EXA050 [high] Every in-scope mailbox can be reached by the integration
#   6 in-scope mailbox(es) cannot be impersonated: ad.viseur@contoso.com refused with ErrorImpersonationDenied (no
#   impersonation right at all), bea.buiten@contoso.com refused with ErrorImpersonationDenied (no impersonation
#   right at all), cor.veld@contoso.com refused with ErrorImpersonationDenied (no impersonation right at all),
#   dirk.dealer@contoso.com refused with ErrorImpersonationDenied (no impersonation right at all),
#   eva.expediteur@contoso.com refused with ErrorImpersonationDenied (no impersonation right at all),
#   fien.field@contoso.com refused with ErrorImpersonationDenied (no impersonation right at all).
# Fix the scope and membership findings, then re-run: exaudit run 'callpro.yaml'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
