# exaudit plan for policy 'callpro-calendar-access' ('callpro.yaml')
# from the snapshot collected at 2026-11-20T09:00:00Z on http://exch01.contoso.com/PowerShell
# Review every line; exaudit never runs this. Run it in the Exchange Management Shell, in this order.
#
# 4 check(s) could not be evaluated; their fixes are unknown. Collect again first:
#   EXA011 The assignment is enabled and Regular: Cannot tell which assignee the policy means: 2 role groups are named or displayed as 'CallPro Calendar Access'; rename so one is meant (see EXA010).
#   EXA012 The assignment is limited by the expected management scope: Cannot tell which assignee the policy means: 2 role groups are named or displayed as 'CallPro Calendar Access'; rename so one is meant (see EXA010).
#   EXA013 No other effective assignment of the role reaches the principal: Cannot tell which assignee the policy means: 2 role groups are named or displayed as 'CallPro Calendar Access'; rename so one is meant (see EXA010).
#   EXA014 The role group holds exactly the expected roles and members: Cannot tell which assignee the policy means: 2 role groups are named or displayed as 'CallPro Calendar Access'; rename so one is meant (see EXA010).

# EXA010 [high] The principal holds the role through the path the policy names
#   The path the policy names is ambiguous: 2 role groups are named or displayed as 'CallPro Calendar Access';
#   rename so one is meant.
# Give each a distinct DisplayName (or remove the stray one):
Set-RoleGroup -Identity 'contoso.com/Microsoft Exchange Security Groups/CallProCalendarAccess_8d3f2c41b7' -DisplayName '<distinct name>'
Set-RoleGroup -Identity 'contoso.com/Microsoft Exchange Security Groups/CallProCalendarAccess_1a2b3c4d5e' -DisplayName '<distinct name>'

# Then re-check: Re-run the audit after the changes have propagated: Exchange caches permissions (Exchange
# Online: up to 2 hours for app RBAC, over 1 hour for application access policies; on-premises: new PowerShell
# and EWS sessions). A check that still fails right after a fix is not yet proof the fix failed.
