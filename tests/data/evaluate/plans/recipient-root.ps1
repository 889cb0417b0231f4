# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA040 [high] The effective scope equals the expected mailbox set
#   6 expected mailbox(es) out of scope: ad.viseur@contoso.com (outside RecipientRoot contoso.com/Field Sales),
#   bea.buiten@contoso.com (outside RecipientRoot contoso.com/Field Sales), cor.veld@contoso.com (outside
#   RecipientRoot contoso.com/Field Sales), dirk.dealer@contoso.com (outside RecipientRoot contoso.com/Field
#   Sales), eva.expediteur@contoso.com (outside RecipientRoot contoso.com/Field Sales), fien.field@contoso.com
#   (outside RecipientRoot contoso.com/Field Sales).
# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034).

# EXA050 [high] Every in-scope mailbox can be reached by the integration
#   6 in-scope mailbox(es) cannot be impersonated: ad.viseur@contoso.com refused with ErrorImpersonateUserDenied
#   (outside RecipientRoot contoso.com/Field Sales, see EXA040), bea.buiten@contoso.com refused with
#   ErrorImpersonateUserDenied (outside RecipientRoot contoso.com/Field Sales, see EXA040), cor.veld@contoso.com
#   refused with ErrorImpersonateUserDenied (outside RecipientRoot contoso.com/Field Sales, see EXA040),
#   dirk.dealer@contoso.com refused with ErrorImpersonateUserDenied (outside RecipientRoot contoso.com/Field
#   Sales, see EXA040), eva.expediteur@contoso.com refused with ErrorImpersonateUserDenied (outside RecipientRoot
#   contoso.com/Field Sales, see EXA040), fien.field@contoso.com refused with ErrorImpersonateUserDenied (outside
#   RecipientRoot contoso.com/Field Sales, see EXA040).
# Fix the scope and membership findings, then re-run: exaudit run 'callpro.yaml'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
