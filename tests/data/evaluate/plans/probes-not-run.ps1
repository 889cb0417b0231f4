# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 2 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA050 Every in-scope mailbox can be reached by the integration: Cannot tell whether the in-scope mailboxes can be impersonated: no probes were run (the snapshot has no probe run); collect with probes to decide this check.
#   EXA051 Every canary mailbox is refused: Cannot tell whether the canaries are out of reach: no probes were run (the snapshot has no probe run); collect with probes to decide this check.
#
# Nothing to change: no check failed.
