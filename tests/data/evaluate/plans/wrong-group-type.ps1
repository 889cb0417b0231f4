# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA030 [medium] The group is a mail-enabled universal security group
#   'SecurityGroup-CallPro Calendar Access': RecipientTypeDetails is MailUniversalDistributionGroup, not
#   MailUniversalSecurityGroup; GroupType 'Universal' is not SecurityEnabled.
# Exchange cannot change a distribution group into a security group; in Active Directory:
# NOT an Exchange cmdlet: run the next line where the ActiveDirectory module is loaded (RSAT or a domain controller), not in the Exchange Management Shell.
Set-ADGroup -Identity 'SecurityGroup-CallPro Calendar Access' -GroupCategory Security   # ActiveDirectory module

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
