# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on https://outlook.office365.com/powershell-liveid/
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA060 [critical] Platform facts: ApplicationImpersonation and EWS lifecycle
#   Exchange Online: ApplicationImpersonation was retired (role removed from February 2025) and EWS is switched
#   off tenant by tenant from 1 October 2026 (56 days ago) and permanently on 1 April 2027 (in 126 days). Move the
#   integration to an Entra app with RBAC for Applications (a service principal with 'Application
#   Calendars.ReadWrite' limited by 'Scope-CallPro Calendar Access') and Microsoft Graph.
# Register an Entra app for the integration, then in Exchange Online PowerShell:
New-ServicePrincipal -AppId <appId> -ObjectId <enterprise-app-objectId> -DisplayName 'callpro-calendar-access'
New-ManagementRoleAssignment -App <enterprise-app-objectId> -Role 'Application Calendars.ReadWrite' -CustomResourceScope 'Scope-CallPro Calendar Access'
Test-ServicePrincipalAuthorization -Identity <enterprise-app-objectId> -Resource <in-scope mailbox>

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
