"""Read the Exchange state an audit needs with a fixed set of read-only cmdlet calls.

The number of calls does not depend on the number of mailboxes: every collection reads the whole organization
with ``-ResultSize Unlimited`` where the cmdlet pages (its default is 1000 objects), and resolves memberships
locally, never one call per mailbox or group. For an audit of N distinct principals the collector makes exactly
``BASE_CALL_COUNT + N`` calls (11 + one Get-User per principal: 12 for the usual single service account).

A failed call is recorded in ``calls`` (ok False, with the error and its kind) and collection goes on, so the
checks that do not need that cmdlet still run; the evaluator turns the checks that need it into ERROR.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from audit.collect import mapping
from audit.collect.interface import CmdletResult, CmdletRunner, ErrorKind, TransportFailure, require_read_only
from audit.errors import CmdletUnavailableError, CollectionError
from audit.snappack import pack
from audit.snapshot import (
    AdministrativeUnit,
    ApplicationAccessPolicy,
    AppRoleGrant,
    AuthorizationRow,
    CollectionCall,
    EntraServicePrincipal,
    ExchangeServer,
    Group,
    Mailbox,
    ManagementRole,
    ManagementScope,
    Organization,
    RawOutput,
    Recipient,
    RoleAssignment,
    RoleGroup,
    ServicePrincipal,
    ThrottlingPolicy,
    User,
)

UNLIMITED = "Unlimited"

PLAN: tuple[tuple[str, Mapping[str, object]], ...] = (
    ("Get-OrganizationConfig", {}),
    ("Get-ExchangeServer", {}),
    ("Get-ThrottlingPolicy", {}),
    ("Get-ManagementRole", {}),
    # Get-ManagementRoleAssignment, Get-ManagementScope and Get-ManagementRole return every object and take no
    # -ResultSize (https://learn.microsoft.com/powershell/module/exchangepowershell/get-managementroleassignment).
    # All assignments are read, not only the principal's: the evaluator expands role groups and USGs itself.
    ("Get-ManagementRoleAssignment", {}),
    ("Get-ManagementScope", {}),
    ("Get-RoleGroup", {"ResultSize": UNLIMITED}),
    ("Get-Group", {"ResultSize": UNLIMITED}),
    ("Get-DistributionGroup", {"ResultSize": UNLIMITED}),
    ("Get-Recipient", {"ResultSize": UNLIMITED}),
    ("Get-Mailbox", {"ResultSize": UNLIMITED}),
)
"""The organization-wide calls, in order; Get-User -Identity <principal> follows once per principal."""

EXO_PLAN: tuple[tuple[str, Mapping[str, object]], ...] = (
    # The EWS app allow list is returned only with this switch (exo-2026.md §1.8).
    ("Get-OrganizationConfig", {"RetrieveEwsOperationAccessPolicy": True}),
    ("Get-ServicePrincipal", {}),
    ("Get-ManagementRole", {}),
    ("Get-ManagementRoleAssignment", {}),
    ("Get-ManagementScope", {}),
    ("Get-ApplicationAccessPolicy", {}),
    ("Get-RoleGroup", {"ResultSize": UNLIMITED}),
    ("Get-Group", {"ResultSize": UNLIMITED}),
    ("Get-DistributionGroup", {"ResultSize": UNLIMITED}),
    ("Get-Recipient", {"ResultSize": UNLIMITED}),
    ("Get-Mailbox", {"ResultSize": UNLIMITED}),
    ("Get-User", {"ResultSize": UNLIMITED}),
)
"""Exchange Online over InvokeCommand, organization-wide and paged; then per app Test-ServicePrincipalAuthorization
once without and once per probed mailbox with -Resource, and the Graph reads (audit.collect.exo)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What one platform's collection calls: the organization-wide calls, the verbs allowed, the per-item calls."""

    platform: str
    calls: tuple[tuple[str, Mapping[str, object]], ...]
    verbs: tuple[str, ...]
    per_principal: tuple[str, ...]


ON_PREMISES = Plan("on-premises", PLAN, ("Get",), ("Get-User",))
EXCHANGE_ONLINE = Plan("exchange-online", EXO_PLAN, ("Get", "Test"), ("Test-ServicePrincipalAuthorization",))
PLANS = {plan.platform: plan for plan in (ON_PREMISES, EXCHANGE_ONLINE)}

BASE_CALL_COUNT = len(PLAN)
"""11: the calls made whatever the policies say; add one Get-User per distinct principal."""


def call_count(principal_count: int) -> int:
    """The exact number of cmdlet calls one collection makes for ``principal_count`` distinct principals."""
    return BASE_CALL_COUNT + principal_count


@dataclass(frozen=True, slots=True)
class CollectedState:
    """The records read over PowerShell remoting, with every call made and its raw output as evidence."""

    organization: Organization | None
    servers: tuple[ExchangeServer, ...]
    role_assignments: tuple[RoleAssignment, ...]
    scopes: tuple[ManagementScope, ...]
    roles: tuple[ManagementRole, ...]
    role_groups: tuple[RoleGroup, ...]
    groups: tuple[Group, ...]
    recipients: tuple[Recipient, ...]
    mailboxes: tuple[Mailbox, ...]
    users: tuple[User, ...]
    throttling_policies: tuple[ThrottlingPolicy, ...]
    calls: tuple[CollectionCall, ...]
    evidence: tuple[RawOutput, ...]
    # Exchange Online (empty on premises).
    service_principals: tuple[ServicePrincipal, ...] = ()
    entra_service_principals: tuple[EntraServicePrincipal, ...] = ()
    app_role_grants: tuple[AppRoleGrant, ...] = ()
    authorizations: tuple[AuthorizationRow, ...] = ()
    application_access_policies: tuple[ApplicationAccessPolicy, ...] = ()
    administrative_units: tuple[AdministrativeUnit, ...] = ()

    def server_version(self) -> tuple[int, int, int, int] | None:
        """The highest Exchange build read from Get-ExchangeServer, or None when none was read."""
        versions = [mapping.parse_server_version(s.admin_display_version) for s in self.servers]
        return max(versions) if versions else None


CallListener = Callable[[CollectionCall], None]


class _Session:
    """Runs the plan against one runner, recording every call; stops contacting the server after a fatal error."""

    def __init__(
        self, runner: CmdletRunner, timeout: float, listener: CallListener | None, verbs: tuple[str, ...] = ("Get",)
    ) -> None:
        self.runner = runner
        self.verbs = verbs
        self.properties: Mapping[str, tuple[str, ...]] = mapping.ORGANIZATION_SCALE
        self.timeout = timeout
        self.listener = listener
        self.calls: list[CollectionCall] = []
        # Each call's output as received (cmdlet, parameters, objects, properties kept); see evidence().
        self.outputs: list[tuple[str, dict[str, str], Sequence[Mapping[str, Any]], tuple[str, ...] | None]] = []
        self.fatal: TransportFailure | None = None

    def _record(self, call: CollectionCall) -> None:
        self.calls.append(call)
        if self.listener is not None:
            self.listener(call)

    def run(self, cmdlet: str, params: Mapping[str, object]) -> CmdletResult | None:
        """Run one cmdlet; the result when it succeeded without error records, else None (and the call is logged)."""
        return self.record(cmdlet, params, self.invoke(cmdlet, params))

    def invoke(
        self, cmdlet: str, params: Mapping[str, object]
    ) -> tuple[CmdletResult | None, str | None, str | None, float]:
        """Call the runner (thread-safe; records nothing): (result, error, error kind, elapsed ms)."""
        require_read_only(cmdlet, self.verbs)
        if self.fatal is not None:
            return None, f"not attempted: {self.fatal}", self.fatal.kind, 0.0
        start = time.perf_counter()
        error: str | None = None
        kind: str | None = None
        result: CmdletResult | None = None
        try:
            result = self.runner.run(cmdlet, params, self.timeout, self.properties.get(cmdlet))
        except CmdletUnavailableError as exc:
            error, kind = str(exc), ErrorKind.COMMAND_NOT_FOUND
        except TransportFailure as exc:
            error, kind = str(exc), exc.kind
            if exc.fatal:
                self.fatal = exc
        except CollectionError as exc:
            error, kind = str(exc), ErrorKind.TRANSPORT
        return result, error, kind, (time.perf_counter() - start) * 1000.0

    def record(
        self,
        cmdlet: str,
        params: Mapping[str, object],
        outcome: tuple[CmdletResult | None, str | None, str | None, float],
    ) -> CmdletResult | None:
        """Log one call's outcome (in call order) and keep its output as evidence."""
        result, error, kind, elapsed = outcome
        shown = {k: str(v) for k, v in params.items()}
        if result is not None:
            result = dataclasses.replace(result, objects=mapping.keep_properties(cmdlet, result.objects))
            kept = mapping.ORGANIZATION_SCALE.get(cmdlet)
            self.outputs.append((cmdlet, shown, result.objects, tuple(kept) if kept else None))
            if not result.ok:
                error = "; ".join(result.errors) or f"{cmdlet} failed"
                kind = result.error_kind or ErrorKind.NON_TERMINATING
            else:
                try:
                    mapping.check_types(cmdlet, result.type_names)
                    mapping.check_not_empty(cmdlet, len(result.objects))
                except CollectionError as exc:
                    error, kind = str(exc), ErrorKind.UNEXPECTED
        count = len(result.objects) if result is not None else 0
        self._record(CollectionCall(cmdlet, shown, error is None, count, round(elapsed, 3), error, kind))
        return result if error is None else None

    def evidence(self) -> tuple[RawOutput, ...]:
        """Every output as evidence, plain dicts, a large one packed (audit.snappack): it is only written.

        Called once mapping is done, so that the objects received (and the runner's rows) are freed after it.
        """
        return tuple(RawOutput(cmdlet, shown, pack(objects), kept) for cmdlet, shown, objects, kept in self.outputs)

    def mapped(self, cmdlet: str, mapper: Callable[[], Any], empty: Any) -> Any:
        """Apply ``mapper``; an object the mapper cannot read marks the call failed instead of half-mapping it."""
        try:
            return mapper()
        except CollectionError as exc:
            self._fail_last(cmdlet, str(exc))
            return empty

    def _fail_last(self, cmdlet: str, message: str) -> None:
        for i in range(len(self.calls) - 1, -1, -1):
            call = self.calls[i]
            if call.cmdlet == cmdlet and call.ok:
                self.calls[i] = CollectionCall(
                    call.cmdlet, call.parameters, False, call.object_count, call.duration_ms, message,
                    ErrorKind.UNEXPECTED,
                )  # fmt: skip
                return


def _run_plan(s: _Session, plan: Sequence[tuple[str, Mapping[str, object]]], workers: int) -> list[CmdletResult | None]:
    """Run every call of ``plan``; results and the call log in plan order whatever order they finished in.

    With several workers the first call runs alone (it opens the session: a wrong password or an unreachable
    server stops there and the rest is "not attempted", as sequentially), then the organization-scale calls are
    started first, so the longest transfers overlap each other and the small calls fill the remaining sessions.
    """
    if workers <= 1 or len(plan) <= 1:
        return [s.run(cmdlet, params) for cmdlet, params in plan]
    first = s.run(*plan[0])
    rest = list(plan[1:])
    order = sorted(range(len(rest)), key=lambda i: rest[i][0] not in mapping.ORGANIZATION_SCALE)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exaudit-collect") as pool:
        futures = {i: pool.submit(s.invoke, *rest[i]) for i in order}
        return [first, *(s.record(*rest[i], futures[i].result()) for i in range(len(rest)))]


def shared_strings(mailboxes: Sequence[Mailbox], recipients: Sequence[Recipient]) -> tuple[Mailbox, ...]:
    """The mailboxes, each string equal to its recipient's (same DN) replaced by the recipient's string object.

    Get-Mailbox repeats the name, identity, DN and address Get-Recipient sent for the same mailbox, read apart
    into new strings: 40 MiB at 100,000 mailboxes. Equal values, so nothing a reader sees changes.
    """
    by_dn = {r.distinguished_name: r for r in recipients if r.distinguished_name}
    out: list[Mailbox] = []
    for m in mailboxes:
        r = by_dn.get(m.distinguished_name)
        if r is None:
            out.append(m)
            continue
        out.append(
            dataclasses.replace(
                m,
                name=_same(m.name, r.name),
                identity=_same(m.identity, r.identity),
                distinguished_name=r.distinguished_name,
                primary_smtp_address=_same(m.primary_smtp_address, r.primary_smtp_address),
                user_principal_name=_same(m.user_principal_name, r.primary_smtp_address),
                recipient_type_details=_same(m.recipient_type_details, r.recipient_type_details),
            )
        )
    return tuple(out)


def _same(value: str, other: str) -> str:
    return other if value == other else value


def collect_state(
    runner: CmdletRunner,
    principals: Sequence[str],
    *,
    timeout: float = 120.0,
    on_call: CallListener | None = None,
    workers: int | None = None,
) -> CollectedState:
    """Read the organization's RBAC, recipient and throttling state with ``call_count(len(principals))`` calls.

    Args:
        runner: the seam to the PowerShell endpoint (pypsrp in production, a fake in unit tests).
        principals: UPNs or SMTP addresses of the service accounts whose access the policies describe.
        timeout: seconds each cmdlet call may take.
        on_call: called after each call (progress), in plan order.
        workers: calls in flight at once (default: the runner's ``pools``, else 1). The calls are independent
            reads, so they may overlap; 1 runs them one after another.
    """
    s = _Session(runner, timeout, on_call)
    plan: list[tuple[str, Mapping[str, object]]] = list(PLAN)
    plan += [("Get-User", {"Identity": p}) for p in dict.fromkeys(p.strip() for p in principals if p.strip())]
    width = workers if workers is not None else int(getattr(runner, "pools", 1) or 1)
    results = _run_plan(s, plan, max(1, width))
    outputs: dict[str, CmdletResult | None] = {}
    user_objects: list[Mapping[str, Any]] = []
    for (cmdlet, _params), result in zip(plan, results, strict=True):
        if cmdlet == "Get-User":
            if result is not None:
                user_objects.extend(result.objects)
        else:
            outputs[cmdlet] = result

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
    recipient_list: tuple[Recipient, ...] = s.mapped(
        "Get-Recipient",
        lambda: mapping.recipients(recipient_objects, mapping.direct_memberships(recipient_objects, group_list)),
        (),
    )

    state = CollectedState(
        organization=s.mapped(
            "Get-OrganizationConfig", lambda: mapping.organization(objs("Get-OrganizationConfig")), None
        ),
        servers=s.mapped("Get-ExchangeServer", lambda: mapping.exchange_servers(objs("Get-ExchangeServer")), ()),
        role_assignments=s.mapped(
            "Get-ManagementRoleAssignment",
            lambda: mapping.role_assignments(objs("Get-ManagementRoleAssignment")),
            (),
        ),
        scopes=s.mapped("Get-ManagementScope", lambda: mapping.management_scopes(objs("Get-ManagementScope")), ()),
        roles=s.mapped("Get-ManagementRole", lambda: mapping.management_roles(objs("Get-ManagementRole")), ()),
        role_groups=s.mapped("Get-RoleGroup", lambda: mapping.role_groups(objs("Get-RoleGroup")), ()),
        groups=group_list,
        recipients=recipient_list,
        mailboxes=shared_strings(
            s.mapped("Get-Mailbox", lambda: mapping.mailboxes(objs("Get-Mailbox")), ()), recipient_list
        ),
        users=s.mapped("Get-User", lambda: mapping.users(user_objects), ()),
        throttling_policies=s.mapped(
            "Get-ThrottlingPolicy", lambda: mapping.throttling_policies(objs("Get-ThrottlingPolicy")), ()
        ),
        calls=(),
        evidence=(),
    )
    # Calls and evidence last: mapping may have turned a call into a failure. The evidence is only written (after
    # probing and evaluating): a large output is held packed from here on, and its dicts are freed on return.
    return dataclasses.replace(state, calls=tuple(s.calls), evidence=s.evidence())
