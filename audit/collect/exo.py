"""Read an Exchange Online tenant's state for RBAC for Applications: InvokeCommand for Exchange, Graph for Entra.

A fixed number of calls however many mailboxes exist (the :data:`audit.collect.collector.EXO_PLAN`, paged),
plus, per app, Test-ServicePrincipalAuthorization once without and once per probed mailbox with ``-Resource`` (run
with bounded concurrency), and the Graph reads of :func:`audit.collect.graph.read_entra`. Every call is recorded
like on premises, so a failed read turns exactly the checks that need it into ERROR.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from audit.collect import mapping, mapping_exo
from audit.collect.collector import EXCHANGE_ONLINE, CallListener, CollectedState, _Session
from audit.collect.graph import AppRef, GraphReader, read_entra
from audit.collect.interface import CmdletResult, CmdletRunner
from audit.snapshot import AuthorizationRow, Group, RoleAssignment, ServicePrincipal

TEST_AUTHORIZATION = "Test-ServicePrincipalAuthorization"
DEFAULT_TEST_CONCURRENCY = 8
"""Test-ServicePrincipalAuthorization -Resource calls in flight; the Admin API throttles per app, so stay modest."""


@dataclass(frozen=True, slots=True)
class ExoApp:
    """An app principal from a policy: application (client) id, service principal object id, display name."""

    app_id: str
    object_id: str
    display_name: str = ""


def exo_call_count(apps: int, resources: int, administrative_units: int = 0) -> int:
    """Calls one collection makes before paging: the plan, 1 + ``resources`` tests and 3 Graph reads per app."""
    return len(EXCHANGE_ONLINE.calls) + apps * (1 + resources + 3) + administrative_units


def _owned(assignment: RoleAssignment, app: ExoApp, sp: ServicePrincipal | None) -> bool:
    """Whether an assignment is the app's.

    RoleAssigneeName is the ObjectId in Microsoft's example and the AppId per a third-party report (exo-2026.md
    §1.1): both are joined on, and the display name too.
    """
    if assignment.role_assignee_type.casefold() not in {"serviceprincipal", "app"}:
        return False
    names = {app.app_id, app.object_id, app.display_name}
    if sp is not None:
        names |= {sp.app_id, sp.object_id, sp.display_name, sp.name, sp.identity}
    wanted = {n.casefold() for n in names if n}
    return bool({assignment.role_assignee_name.casefold(), assignment.role_assignee.casefold()} & wanted)


def collect_exo_state(
    runner: CmdletRunner,
    graph: GraphReader,
    apps: Sequence[ExoApp],
    *,
    resources: Callable[[CollectedState], Sequence[str]] | None = None,
    timeout: float = 120.0,
    concurrency: int = DEFAULT_TEST_CONCURRENCY,
    on_call: CallListener | None = None,
) -> CollectedState:
    """Read the tenant's state for ``apps``; ``resources(state)`` names the mailboxes to test each app against.

    Args:
        runner: the InvokeCommand runner (or a fake).
        graph: the Graph reader for the Entra side.
        apps: the policies' app principals.
        resources: the mailboxes probed (allow list, canaries, sample), computed from the state read so far.
        timeout: seconds each call may take (paging included).
        concurrency: Test-ServicePrincipalAuthorization -Resource calls in flight.
        on_call: called after each recorded call (progress).
    """
    s = _Session(runner, timeout, on_call, EXCHANGE_ONLINE.verbs)
    s.properties = {**mapping.ORGANIZATION_SCALE, "Get-User": mapping_exo.USER_PROPERTIES}
    outputs: dict[str, CmdletResult | None] = {}
    for cmdlet, params in EXCHANGE_ONLINE.calls:
        outputs[cmdlet] = s.run(cmdlet, params)

    def objs(cmdlet: str) -> Sequence[Mapping[str, Any]]:
        result = outputs.get(cmdlet)
        return result.objects if result is not None else []

    group_list: tuple[Group, ...] = s.mapped(
        "Get-Group",
        lambda: mapping.groups(
            objs("Get-Group"), objs("Get-DistributionGroup") if outputs["Get-DistributionGroup"] else None
        ),
        (),
    )
    recipient_objects = objs("Get-Recipient")
    sps: tuple[ServicePrincipal, ...] = s.mapped(
        "Get-ServicePrincipal", lambda: mapping_exo.service_principals(objs("Get-ServicePrincipal")), ()
    )
    assignments: tuple[RoleAssignment, ...] = s.mapped(
        "Get-ManagementRoleAssignment", lambda: mapping_exo.role_assignments(objs("Get-ManagementRoleAssignment")), ()
    )
    state = CollectedState(
        organization=s.mapped(
            "Get-OrganizationConfig", lambda: mapping_exo.organization(objs("Get-OrganizationConfig")), None
        ),
        servers=(),
        role_assignments=assignments,
        scopes=s.mapped("Get-ManagementScope", lambda: mapping_exo.management_scopes(objs("Get-ManagementScope")), ()),
        roles=s.mapped("Get-ManagementRole", lambda: mapping.management_roles(objs("Get-ManagementRole")), ()),
        role_groups=s.mapped("Get-RoleGroup", lambda: mapping.role_groups(objs("Get-RoleGroup")), ()),
        groups=group_list,
        recipients=s.mapped(
            "Get-Recipient",
            lambda: mapping.recipients(recipient_objects, mapping.direct_memberships(recipient_objects, group_list)),
            (),
        ),
        mailboxes=s.mapped("Get-Mailbox", lambda: mapping.mailboxes(objs("Get-Mailbox")), ()),
        users=s.mapped("Get-User", lambda: mapping.users(objs("Get-User")), ()),
        throttling_policies=(),
        calls=(),
        evidence=(),
        service_principals=sps,
        application_access_policies=s.mapped(
            "Get-ApplicationAccessPolicy",
            lambda: mapping_exo.application_access_policies(objs("Get-ApplicationAccessPolicy")),
            (),
        ),
    )
    mailboxes = list(dict.fromkeys(m.casefold() for m in (resources(state) if resources is not None else ())))
    pointers_read = all(c.ok for c in s.calls if c.cmdlet == "Get-ServicePrincipal") and any(
        c.cmdlet == "Get-ServicePrincipal" for c in s.calls
    )
    rows: list[AuthorizationRow] = []
    refs: list[AppRef] = []
    units: list[str] = []
    for app in apps:
        sp = next((p for p in sps if p.app_id.casefold() == app.app_id.casefold()), None)
        identity = sp.object_id if sp is not None else app.object_id
        refs.append(AppRef(app.app_id, identity))
        units += [
            a.recipient_administrative_unit_scope
            for a in assignments
            if a.recipient_administrative_unit_scope and _owned(a, app, sp)
        ]
        ids = {app.app_id.casefold(), app.object_id.casefold()}
        pointer = any(p.app_id.casefold() in ids or p.object_id.casefold() in ids for p in sps)
        if not pointer and pointers_read:
            # Exchange listed every pointer and none is this app's: Test-ServicePrincipalAuthorization could only
            # answer "not found", and RBAC for Applications grants the app nothing (EXA070 reports the missing
            # pointer). https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac
            continue
        rows += _test_authorization(s, identity, [None, *mailboxes], concurrency)
    entra = read_entra(graph, refs, units, on_call=on_call)
    state = dataclasses.replace(
        state,
        authorizations=tuple(rows),
        entra_service_principals=tuple(entra.service_principals),
        app_role_grants=tuple(entra.grants),
        administrative_units=tuple(entra.administrative_units),
    )
    # Calls and evidence last: mapping may have turned a call into a failure.
    return dataclasses.replace(state, calls=(*s.calls, *entra.calls), evidence=(*s.evidence(), *entra.evidence))


def _test_authorization(
    s: _Session, identity: str, resources: Sequence[str | None], concurrency: int
) -> list[AuthorizationRow]:
    """Test-ServicePrincipalAuthorization for each resource (None: without -Resource), recorded in order.

    At most ``concurrency`` calls are in flight at once.
    """

    def params(resource: str | None) -> dict[str, object]:
        return {"Identity": identity} if resource is None else {"Identity": identity, "Resource": resource}

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(resources)))) as pool:
        outcomes = list(pool.map(lambda r: s.invoke(TEST_AUTHORIZATION, params(r)), resources))
    rows: list[AuthorizationRow] = []
    for resource, outcome in zip(resources, outcomes, strict=True):
        result = s.record(TEST_AUTHORIZATION, params(resource), outcome)
        if result is not None:
            rows += s.mapped(TEST_AUTHORIZATION, partial(mapping_exo.authorizations, result.objects, resource), ())
    return rows
