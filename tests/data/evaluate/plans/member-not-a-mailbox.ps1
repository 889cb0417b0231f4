# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA035 [medium] Every member is a mailbox that can be synced
#   1 member(s) of 'SecurityGroup-CallPro Calendar Access' cannot be synced: Kees Contractor
#   <kees@partner.example> is a MailUser, not a mailbox in this organization.
# (this member is removed further down, under another name, after what must come first)

# EXA033 [high] The group's members match the policy
#   Members of 'SecurityGroup-CallPro Calendar Access' differ from the policy's list: unexpected: Kees Contractor
#   <kees@partner.example>.
Remove-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'kees@partner.example' -BypassSecurityGroupManagerCheck -Confirm:$false

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
