"""The recipients outside a policy's scope that ``probes.deny.sample`` draws from (the sample's pool).

One definition for both sides: the runner draws the random sample from it (``audit.run``), and EXA051 uses it to
cap the sample it expects to the recipients that exist. A tenant with three mailboxes outside the scope cannot
give ten refusals; when all three were probed and refused, the sample is complete, not undecided.
"""

from __future__ import annotations

from collections.abc import Iterable

from audit.policy import LoadedPolicy
from audit.snapshot import Group, Recipient

# Mailboxes a calendar probe can open (Get-Recipient RecipientTypeDetails); mail users, contacts and groups have
# no calendar here, so a refusal from them would prove nothing about the scope.
# https://learn.microsoft.com/en-us/previous-versions/office/exchange-server-api/ff344739(v=exchg.150)
SAMPLE_TYPES = frozenset({"usermailbox", "sharedmailbox", "roommailbox", "equipmentmailbox"})


def outside_pool(policy: LoadedPolicy, groups: Iterable[Group], recipients: Iterable[Recipient]) -> list[str]:
    """Primary SMTP addresses (case-folded, sorted) of the mailboxes neither expected, allowed, canaries nor members.

    Members are recognised by the DN of the policy's group (MemberOfGroup's direct membership), so the pool is only
    meaningful when Get-Group and Get-Recipient were both read; the callers check that.
    """
    group_dns = {
        g.distinguished_name.casefold()
        for g in groups
        if policy.spec.group is not None
        and policy.spec.group.name.casefold() in {g.name.casefold(), g.display_name.casefold()}
    }
    excluded = set(policy.expected_members.required) | set(policy.expected_members.at_most or ())
    if policy.spec.principal.service_account:
        # The service account's own mailbox says nothing about the scope.
        excluded.add(policy.spec.principal.service_account.casefold())
    if policy.spec.probes is not None:
        excluded |= {str(a).casefold() for a in policy.spec.probes.deny.canaries}
        if policy.spec.probes.allow != "groupMembers":
            excluded |= {str(a).casefold() for a in policy.spec.probes.allow}
    return sorted(
        r.primary_smtp_address.casefold()
        for r in recipients
        if r.recipient_type_details.casefold() in SAMPLE_TYPES
        and r.primary_smtp_address
        and r.primary_smtp_address.casefold() not in excluded
        and not ({dn.casefold() for dn in r.member_of} & group_dns)
    )
