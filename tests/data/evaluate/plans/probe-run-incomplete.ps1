# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 1 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA050 Every in-scope mailbox can be reached by the integration: 2 in-scope mailbox(es) undecided: the probe run did not complete (deadline of 300 s reached with 2 probes outstanding): eva.expediteur@contoso.com, fien.field@contoso.com.
#
# Nothing to change: no check failed.
