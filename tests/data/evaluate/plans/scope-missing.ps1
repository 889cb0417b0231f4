# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA030 [medium] The group is a mail-enabled universal security group
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
New-DistributionGroup -Name 'SecurityGroup-CallPro Calendar Access' -Type Security -MemberJoinRestriction Closed -MemberDepartRestriction Closed
Set-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access' -HiddenFromAddressListsEnabled $true

# EXA031 [low] The group is hidden from address lists
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
# (the commands above already cover this)

# EXA032 [high] The group's membership is closed
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
# (the commands above already cover this)

# EXA033 [high] The group's members match the policy
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'ad.viseur@contoso.com' -BypassSecurityGroupManagerCheck
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'bea.buiten@contoso.com' -BypassSecurityGroupManagerCheck
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'cor.veld@contoso.com' -BypassSecurityGroupManagerCheck
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'dirk.dealer@contoso.com' -BypassSecurityGroupManagerCheck
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'eva.expediteur@contoso.com' -BypassSecurityGroupManagerCheck
Add-DistributionGroupMember -Identity 'SecurityGroup-CallPro Calendar Access' -Member 'fien.field@contoso.com' -BypassSecurityGroupManagerCheck

# EXA034 [medium] The group has no nested groups
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
# (the commands above already cover this)

# EXA035 [medium] Every member is a mailbox that can be synced
#   The group does not exist: no group is named or displayed as 'SecurityGroup-CallPro Calendar Access'.
# (the commands above already cover this)

# EXA020 [critical] The management scope exists and its filter means the expected filter
#   The management scope 'Scope-CallPro Calendar Access' does not exist.
$group = Get-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access'
New-ManagementScope -Name 'Scope-CallPro Calendar Access' -RecipientRestrictionFilter "MemberOfGroup -eq '$($group.DistinguishedName)'"

# EXA021 [high] The group DN named by the scope filter resolves to the expected group
#   The scope 'Scope-CallPro Calendar Access' does not exist, so no filter names 'SecurityGroup-CallPro Calendar
#   Access' (see EXA020).
# (the commands above already cover this)

# EXA012 [critical] The assignment is limited by the expected management scope
#   'ApplicationImpersonation-CallPro Calendar Access' is unscoped (RecipientWriteScope Organization): it reaches
#   every mailbox in the organization.
Set-ManagementRoleAssignment -Identity 'ApplicationImpersonation-CallPro Calendar Access' -CustomRecipientWriteScope 'Scope-CallPro Calendar Access'

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
