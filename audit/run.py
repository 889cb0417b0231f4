"""The live audit: collect over PowerShell remoting, probe over EWS, evaluate; and the self-contained demo.

``audit.cli`` calls :func:`collect` (``exaudit collect``), :func:`run` (``exaudit run``) and :func:`demo`
(``exaudit demo``); it writes the snapshot and the reports. Nothing here prints or logs a secret: passwords live
only in :class:`TargetOptions` (hidden from repr) and in the client libraries' sessions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Sequence
from typing import Protocol

from audit import __version__
from audit.collect import CollectedState, call_count, collect_state
from audit.collect.psrp import PsrpEndpoint, PsrpRunner
from audit.errors import ProbeError, UsageError
from audit.evaluate.sample import outside_pool
from audit.findings import Finding
from audit.policy import LoadedPolicy
from audit.probe import CALENDAR_READ, CALENDAR_WRITE, EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.replies import MIB
from audit.snapshot import Probe, ProbeOutcome, ProbeRun, Snapshot, Target, ThrottlingPolicy
from audit.target.exo import ExchangeOnline
from audit.target.onprem import DEFAULT_CONCURRENCY, TargetOptions
from audit.target.onprem import check_target as _check_target

__all__ = ["DEFAULT_CONCURRENCY", "ExchangeOnline", "TargetOptions"]  # re-exported: they lived here before
FALLBACK_BUILD = (15, 0, 847, 32)  # Exchange 2013 SP1: a schema every supported on-premises server understands


class ProgressSink(Protocol):
    """Where progress goes (the CLI gives a rich bar on a terminal, plain lines otherwise, or nothing)."""

    def start(self, total: int, label: str) -> None:
        """Begin a phase of ``total`` steps."""
        ...

    def advance(self, n: int = 1) -> None:
        """Count ``n`` steps done."""
        ...

    def finish(self) -> None:
        """End the current phase."""
        ...


def _principals(policies: Sequence[LoadedPolicy]) -> list[str]:
    return [p.spec.principal.service_account for p in policies if p.spec.principal.service_account]


def probe_targets(
    policies: Sequence[LoadedPolicy], state: CollectedState | None, seed: int | None
) -> list[ProbeTarget]:
    """The mailboxes to probe: every expected in-scope mailbox (allow), every canary and sampled outsider (deny)."""
    targets: dict[tuple[str, str], ProbeTarget] = {}

    def add(address: str, expect: str, source: str) -> None:
        key = (address.casefold(), expect)
        targets.setdefault(key, ProbeTarget(address.casefold(), expect, source))

    for policy in policies:
        probes = policy.spec.probes
        if probes is None:
            continue
        if probes.allow == "groupMembers":
            for address in sorted(policy.expected_members.required):
                add(address, "allow", "groupMembers")
        else:
            for address in probes.allow:
                add(str(address), "allow", "list")
        for address in probes.deny.canaries:
            add(str(address), "deny", "canary")
        if probes.deny.sample and state is not None and _membership_read(state):
            for address in _sample_outside(policy, state, probes.deny.sample, seed):
                add(address, "deny", "sample")
    return list(targets.values())


def _membership_read(state: CollectedState) -> bool:
    """Whether the recipients and their group memberships were read, so that "outside the scope" is known.

    With Get-Group failed no recipient shows as a member of the scope's group: members would be sampled as
    outsiders and their (correct) access read as a breach. Without a sample EXA051 stays undecided (ERROR).
    """
    failed = {c.cmdlet.casefold() for c in state.calls if not c.ok}
    return not failed & {"get-group", "get-recipient"}


def _sample_outside(policy: LoadedPolicy, state: CollectedState, n: int, seed: int | None) -> list[str]:
    """``n`` random mailboxes (seeded) neither expected in scope, nor members of the scope's group, nor canaries.

    The pool is EXA051's too (audit.evaluate.sample): a pool smaller than ``n`` is probed whole, and EXA051 caps
    the sample it expects to it.
    """
    pool = outside_pool(policy, state.groups, state.recipients)
    return random.Random(seed).sample(pool, min(n, len(pool)))  # noqa: S311  (a sample, not a secret)


def applicable_throttling_policy(state: CollectedState, principals: Sequence[str]) -> ThrottlingPolicy | None:
    """The throttling policy that applies to the service account: its own, else the organization's, else Global."""
    wanted = {p.casefold() for p in principals}
    by_name = {t.name.casefold(): t for t in state.throttling_policies} | {
        t.identity.casefold(): t for t in state.throttling_policies
    }
    for mailbox in state.mailboxes:
        own = (mailbox.throttling_policy or "").casefold()
        if (
            own in by_name
            and {mailbox.user_principal_name.casefold(), mailbox.primary_smtp_address.casefold()} & wanted
        ):
            return by_name[own]
    for scope in ("organization", "global"):
        for t in state.throttling_policies:
            if t.scope.casefold() == scope:
                return t
    return None


def probing_identity(login: str, state: CollectedState, principals: Sequence[str]) -> str:
    r"""The principal the EWS probes ran as: the policy's principal when the login is that user, else the login.

    A login may be written ``DOMAIN\user``, ``user`` or ``user@domain``; it is matched against the collected
    Get-User record of each principal (sAMAccountName, UPN, WindowsEmailAddress).
    """
    if not login:
        return principals[0] if principals else ""
    bare = login.rsplit("\\", 1)[-1].casefold()
    for principal in principals:
        for user in state.users:
            names = {user.sam_account_name.casefold(), user.user_principal_name.casefold()}
            names |= {user.windows_email_address.casefold()} - {""}
            if principal.casefold() in names and bare in names:
                return principal
    return login


# When exaudit could not read the EWSMaxConcurrency that applies to the service account, it assumes a budget no
# tenant is plausibly below: the documented defaults are 10 (Exchange 2010) and 27 (2013 and later), Microsoft's
# own advice is "no more than ten open requests", but an admin may set any lower value on the account's own policy
# (a tenant allowing 2 was seen). Exceeding it is answered with ErrorExceededConnectionCount/ErrorServerBusy for
# every probe over the limit. Source: /work/shared/domain/exchange-rbac.md section 9 (ODX
# ews-throttling-in-exchange.md).
UNKNOWN_POLICY_CONCURRENCY = 2


def probe_concurrency(requested: int, policy: ThrottlingPolicy | None) -> int:
    """The number of parallel probes: as requested, capped by the account's EWSMaxConcurrency budget.

    With no known policy (None) the cap is :data:`UNKNOWN_POLICY_CONCURRENCY`, never the request.
    """
    if policy is None:
        return max(1, min(requested, UNKNOWN_POLICY_CONCURRENCY))
    limit = policy.ews_max_concurrency
    return max(1, min(requested, limit) if limit else requested)


def probe_budget(requested: int, state: CollectedState, principals: Sequence[str]) -> tuple[int, str]:
    """Probes in flight for this run, and why it is fewer than requested when the applicable budget is unknown.

    Never more than the tightest limit exaudit could not rule out: with Get-ThrottlingPolicy failed, or no policy
    that applies, the conservative default; with Get-Mailbox failed (which policy is the account's own is unknown),
    the tightest of every policy read.
    """
    failed = {c.cmdlet.casefold() for c in state.calls if not c.ok}
    n: int
    if "get-throttlingpolicy" in failed:
        n = probe_concurrency(requested, None)
        why = "Get-ThrottlingPolicy failed, so the service account's EWSMaxConcurrency is unknown"
    elif "get-mailbox" in failed:
        limits = [t.ews_max_concurrency for t in state.throttling_policies if t.ews_max_concurrency]
        n = max(1, min([requested, UNKNOWN_POLICY_CONCURRENCY, *limits]))
        why = "Get-Mailbox failed, so which throttling policy applies to the service account is unknown"
    else:
        policy = applicable_throttling_policy(state, principals)
        n = probe_concurrency(requested, policy)
        if policy is not None:
            return n, ""
        why = "no throttling policy applies to the service account (none read was its own, Organization or Global)"
    if n >= requested:
        return n, ""
    return n, f"{why}: probing at most {n} mailboxes at a time instead of {requested}"


def _probe_operation(policies: Sequence[LoadedPolicy], override: str | None) -> str:
    if override is not None:
        if override not in (CALENDAR_READ, CALENDAR_WRITE):
            raise UsageError(f"unknown probe operation {override!r}: use calendarRead or calendarWrite")
        return override
    ops = {p.spec.probes.operation for p in policies if p.spec.probes is not None}
    return CALENDAR_WRITE if CALENDAR_WRITE in ops else CALENDAR_READ


def _not_probed(targets: Sequence[ProbeTarget], operation: str, reason: str) -> tuple[Probe, ...]:
    return tuple(
        Probe(t.mailbox, t.expect, t.source, operation, ProbeOutcome.ERROR, "", reason, 0.0, 0) for t in targets
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _read_state(principals: Sequence[str], target: TargetOptions, progress: ProgressSink | None) -> CollectedState:
    """Read the organization over PowerShell remoting (a fixed number of Get-* calls)."""
    runner = PsrpRunner(
        PsrpEndpoint(
            server=target.server,
            port=target.port,
            path=target.path,
            ssl=target.scheme == "https",
            auth=target.auth,
            username=target.audit_username or None,
            password=target.audit_password,
            cert_validation=target.cert_validation,
            connection_timeout=min(30.0, target.timeout_seconds),
            certificate_pem=str(target.client_cert) if target.client_cert else None,
            certificate_key_pem=str(target.client_key) if target.client_key else None,
            max_reply_bytes=int(target.max_reply_mib * MIB),
            spn_host=target.spn_host,
        ),
        pools=target.psrp_pools,
    )
    if progress is not None:
        progress.start(call_count(len(set(principals))), "reading Exchange over PowerShell remoting")
    try:
        return collect_state(
            runner,
            principals,
            timeout=target.timeout_seconds,
            on_call=(lambda _call: progress.advance(1)) if progress is not None else None,
        )
    finally:
        runner.close()
        if progress is not None:
            progress.finish()


def read_only_snapshot(
    service_account: str, target: TargetOptions | ExchangeOnline, *, progress: ProgressSink | None = None
) -> Snapshot:
    """Collect the state for one service account without probing it (for `exaudit export`)."""
    if isinstance(target, ExchangeOnline):
        from audit.run_exo import read_only_exo  # noqa: PLC0415  (Exchange Online only)

        return read_only_exo(service_account, target, progress=progress)
    _check_target(target)
    collected_at = _now()
    state = _read_state([service_account], target, progress)
    return _snapshot(state, target, collected_at, service_account, (), None)


def collect(
    policies: Sequence[LoadedPolicy],
    target: TargetOptions | ExchangeOnline,
    *,
    progress: ProgressSink | None = None,
    after_create: object | None = None,
    issued_tokens: list[str] | None = None,
) -> Snapshot:
    """Collect the Exchange state over PowerShell remoting and probe the mailboxes over EWS; returns the snapshot.

    A failure to reach either endpoint does not raise: it is recorded (failed calls, ERROR probe outcomes, an
    incomplete probe run) so that the evaluation reports ERROR for exactly the checks that lacked data.

    Raises:
        UsageError: the target options cannot work (e.g. an unknown authentication method).
    """
    if isinstance(target, ExchangeOnline):
        from audit.run_exo import collect_exo  # noqa: PLC0415  (Exchange Online: InvokeCommand, Graph)

        return collect_exo(policies, target, progress=progress, after_create=after_create, issued_tokens=issued_tokens)
    _check_target(target)
    collected_at = _now()
    principals = _principals(policies)
    state = _read_state(principals, target, progress)
    probes, probe_run = _probe(policies, target, state, progress, after_create)
    service_account = probing_identity(target.service_username, state, principals)
    return _snapshot(state, target, collected_at, service_account, probes, probe_run)


def _snapshot(
    state: CollectedState,
    target: TargetOptions,
    collected_at: str,
    service_account: str,
    probes: tuple[Probe, ...],
    probe_run: ProbeRun | None,
) -> Snapshot:
    org = state.organization
    return Snapshot(
        tool_version=__version__,
        collected_at=collected_at,
        finished_at=_now(),
        target=Target(
            platform="exchange-online" if org is not None and org.is_exchange_online else "on-premises",
            psrp_endpoint=target.psrp_url,
            ews_url=target.resolved_ews_url,
            service_account=service_account,
        ),
        organization=org,
        servers=state.servers,
        role_assignments=state.role_assignments,
        scopes=state.scopes,
        roles=state.roles,
        role_groups=state.role_groups,
        groups=state.groups,
        recipients=state.recipients,
        mailboxes=state.mailboxes,
        users=state.users,
        throttling_policies=state.throttling_policies,
        service_principals=state.service_principals,
        entra_service_principals=state.entra_service_principals,
        app_role_grants=state.app_role_grants,
        authorizations=state.authorizations,
        application_access_policies=state.application_access_policies,
        administrative_units=state.administrative_units,
        probes=probes,
        probe_run=probe_run,
        calls=state.calls,
        evidence=state.evidence,
    )


def _probe(
    policies: Sequence[LoadedPolicy],
    target: TargetOptions,
    state: CollectedState,
    progress: ProgressSink | None,
    after_create: object | None,
) -> tuple[tuple[Probe, ...], ProbeRun | None]:
    targets = probe_targets(policies, state, target.sample_seed)
    if not targets:
        return (), None
    operation = _probe_operation(policies, target.probe_operation)
    principals = _principals(policies)
    concurrency, note = probe_budget(target.concurrency, state, principals)
    started = _now()

    def not_run(reason: str) -> tuple[tuple[Probe, ...], ProbeRun]:
        run = ProbeRun(
            started, _now(), concurrency, target.deadline_seconds, completed=False, error=reason, concurrency_note=note
        )
        return _not_probed(targets, operation, reason), run

    username = target.service_username or (principals[0] if principals else "")
    if not username:
        return not_run("no service account to probe with: give --service-user")
    if target.service_password is None and not (target.auth == "kerberos" and target.service_keytab):
        return not_run("no service account password: set EXAUDIT_SERVICE_PASSWORD or --service-password-file")
    try:
        build = state.server_version() or FALLBACK_BUILD
    except Exception:  # an unreadable version was already recorded as a failed Get-ExchangeServer call
        build = FALLBACK_BUILD
    endpoint = EwsEndpoint(
        url=target.resolved_ews_url,
        username=username,
        password=target.service_password,
        auth="ntlm" if target.auth in ("negotiate", "certificate") else target.auth,
        server_build=build,
        cert_validation=target.cert_validation,
        max_reply_bytes=int(target.max_ews_reply_mib * MIB),
        keytab=target.service_keytab if target.auth == "kerberos" else None,
        spn_host=target.spn_host,
    )
    settings = ProbeSettings(
        concurrency=concurrency,
        deadline_seconds=target.deadline_seconds,
        request_timeout=target.timeout_seconds,
        operation=operation,
    )
    try:
        prober = Prober(endpoint, settings, after_create=after_create if callable(after_create) else None)
    except ProbeError as exc:
        return not_run(str(exc))
    try:
        probes, probe_run = prober.run(targets, progress)
    finally:
        prober.close()
    return probes, dataclasses.replace(probe_run, concurrency_note=note)


def run(
    policies: Sequence[LoadedPolicy],
    target: TargetOptions | ExchangeOnline,
    now: dt.datetime,
    *,
    progress: ProgressSink | None = None,
) -> tuple[Snapshot, tuple[Finding, ...]]:
    """Collect, probe and evaluate every policy against the live target."""
    from audit.evaluate import evaluate_all  # noqa: PLC0415  (the core is imported only when evaluating)

    snapshot = collect(policies, target, progress=progress)
    return snapshot, tuple(evaluate_all(policies, snapshot, now))
