# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 2 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA050 Every in-scope mailbox can be reached by the integration: 6 in-scope mailbox(es) undecided: auth_failed 401 HTTP 401 Unauthorized: ad.viseur@contoso.com, bea.buiten@contoso.com, cor.veld@contoso.com, dirk.dealer@contoso.com, eva.expediteur@contoso.com, fien.field@contoso.com.
#   EXA051 Every canary mailbox is refused: Canaries not proven out of reach: auth_failed 401 HTTP 401 Unauthorized: ceo@contoso.com, hr-shared@contoso.com.

# EXA001 [high] The principal exists and is enabled
#   The account svcServiceAccount@contoso.com is disabled: the integration cannot log in.
# NOT an Exchange cmdlet: run the next line where the ActiveDirectory module is loaded (RSAT or a domain controller), not in the Exchange Management Shell.
Enable-ADAccount -Identity 'svcServiceAccount'  # AD module

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
