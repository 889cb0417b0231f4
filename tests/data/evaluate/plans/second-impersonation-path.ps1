# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA013 [critical] No other effective assignment of the role reaches the principal
#   1 other ApplicationImpersonation assignment(s) reach svcServiceAccount: 'ApplicationImpersonation-Legacy EWS
#   Apps' (unscoped: whole organization) via svcServiceAccount -> group 'EWS Service Accounts' -> role group
#   'Legacy EWS Apps'.
Remove-DistributionGroupMember -Identity 'EWS Service Accounts' -Member 'svcServiceAccount@contoso.com' -BypassSecurityGroupManagerCheck -Confirm:$false
# or, if nobody else in 'EWS Service Accounts' needs 'ApplicationImpersonation':
# Remove-ManagementRoleAssignment -Identity 'ApplicationImpersonation-Legacy EWS Apps' -Confirm:$false

# EXA040 [critical] The effective scope equals the expected mailbox set
#   8 mailbox(es) in scope that the policy does not allow: ceo@contoso.com, gijs.grond@contoso.com,
#   hanna.huis@contoso.com, hr-shared@contoso.com, ivo.intern@contoso.com, jet.janssen@contoso.com,
#   room1@contoso.com, svcServiceAccount@contoso.com.
# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034).

# EXA051 [critical] Every canary mailbox is refused
#   The service account CAN impersonate 2 mailbox(es) that must stay out of reach: ceo@contoso.com,
#   hr-shared@contoso.com. The scope does not hold.
# Restrict the assignment (EXA012, EXA013) and the scope (EXA020, EXA021) now; then re-run: exaudit run 'callpro.yaml'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
