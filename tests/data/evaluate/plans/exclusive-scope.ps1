# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.

# EXA040 [high] The effective scope equals the expected mailbox set
#   1 expected mailbox(es) out of scope: dirk.dealer@contoso.com (taken away by exclusive scope 'VIP Mailboxes').
# 1 expected mailbox(es) sit in the exclusive scope(s) 'VIP Mailboxes': only assignments made with
# -ExclusiveRecipientWriteScope on such a scope reach them. Decide with the scope's owner: narrow that
# scope's filter (Set-ManagementScope -RecipientRestrictionFilter), or drop the mailbox(es) from the
# policy. An exclusive assignment for this account would also open every other mailbox the scope guards.
# Follows from the assignment, scope and membership fixes (EXA012, EXA013, EXA020, EXA021, EXA033, EXA034).

# EXA050 [high] Every in-scope mailbox can be reached by the integration
#   1 in-scope mailbox(es) cannot be impersonated: dirk.dealer@contoso.com refused with ErrorImpersonateUserDenied
#   (taken away by exclusive scope 'VIP Mailboxes', see EXA040).
# Fix the scope and membership findings, then re-run: exaudit run 'callpro.yaml'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
