# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA014 [high] The role group holds exactly the expected roles and members
#   Role group 'CallPro Calendar Access': extra member 'Jet Janssen' (contoso.com/Users/Jet Janssen).
Remove-RoleGroupMember -Identity 'CallPro Calendar Access' -Member 'contoso.com/Users/Jet Janssen' -Confirm:$false

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
