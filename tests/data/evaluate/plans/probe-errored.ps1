# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 1 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA050 Every in-scope mailbox can be reached by the integration: 1 in-scope mailbox(es) undecided: error ErrorServerBusy throttled: BackOffMilliseconds 297749 exceeds the run deadline: eva.expediteur@contoso.com.
#
# Nothing to change: no check failed.
