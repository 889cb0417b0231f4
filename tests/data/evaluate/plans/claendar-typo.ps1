# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA020 [critical] The management scope exists and its filter means the expected filter
#   The filter of 'Scope-CallPro Calendar Access' is "MemberOfGroup -eq 'CN=SecurityGroup-CallPro Claendar
#   Access,OU=Groups,DC=contoso,DC=com'", which does not mean MemberOfGroup -eq 'CN=SecurityGroup-CallPro Calendar
#   Access,OU=Groups,DC=contoso,DC=com'.
$group = Get-DistributionGroup -Identity 'SecurityGroup-CallPro Calendar Access'
Set-ManagementScope -Identity 'Scope-CallPro Calendar Access' -RecipientRestrictionFilter "MemberOfGroup -eq '$($group.DistinguishedName)'"

# EXA021 [high] The group DN named by the scope filter resolves to the expected group
#   The filter of 'Scope-CallPro Calendar Access': 'CN=SecurityGroup-CallPro Claendar
#   Access,OU=Groups,DC=contoso,DC=com' matches no group (a typo of 'SecurityGroup-CallPro Calendar Access'?): the
#   filter selects no one through it.
# (the commands above already cover this)

# EXA040 [high] The effective scope equals the expected mailbox set
#   6 expected mailbox(es) out of scope: ad.viseur@contoso.com, bea.buiten@contoso.com, cor.veld@contoso.com,
#   dirk.dealer@contoso.com, eva.expediteur@contoso.com, fien.field@contoso.com.
# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034).

# EXA050 [high] Every in-scope mailbox can be reached by the integration
#   6 in-scope mailbox(es) cannot be impersonated: ad.viseur@contoso.com refused with ErrorImpersonateUserDenied
#   (outside the scope), bea.buiten@contoso.com refused with ErrorImpersonateUserDenied (outside the scope),
#   cor.veld@contoso.com refused with ErrorImpersonateUserDenied (outside the scope), dirk.dealer@contoso.com
#   refused with ErrorImpersonateUserDenied (outside the scope), eva.expediteur@contoso.com refused with
#   ErrorImpersonateUserDenied (outside the scope), fien.field@contoso.com refused with ErrorImpersonateUserDenied
#   (outside the scope).
# Fix the scope and membership findings, then re-run: exaudit run 'callpro.yaml'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
