# exaudit plan for policy 'callpro-calendar-access' (callpro.yaml)
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA030 [medium] The group is a mail-enabled universal security group
#   'SecurityGroup-CallPro Calendar Access': RecipientTypeDetails is MailUniversalDistributionGroup, not
#   MailUniversalSecurityGroup; GroupType 'Universal' is not SecurityEnabled.
# Exchange cannot change a distribution group into a security group; in Active Directory:
Set-ADGroup -Identity 'SecurityGroup-CallPro Calendar Access' -GroupCategory Security   # ActiveDirectory module
