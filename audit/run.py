"""The live audit: collect over PowerShell remoting, probe over EWS, evaluate; and the self-contained demo.

``audit.cli`` calls :func:`collect` (``exaudit collect``), :func:`run` (``exaudit run``) and :func:`demo`
(``exaudit demo``); it writes the snapshot and the reports. Nothing here prints or logs a secret: passwords live
only in :class:`TargetOptions` (hidden from repr) and in the client libraries' sessions.
"""

from __future__ import annotations

import datetime as dt
import random
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from audit import __version__
from audit.collect import CollectedState, call_count, collect_state
from audit.collect.psrp import AUTH_METHODS, PsrpEndpoint, PsrpRunner
from audit.errors import ProbeError, UsageError
from audit.findings import Finding
from audit.policy import LoadedPolicy
from audit.probe import CALENDAR_READ, CALENDAR_WRITE, EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.snapshot import Probe, ProbeOutcome, ProbeRun, Snapshot, Target, ThrottlingPolicy

if TYPE_CHECKING:
    from audit.lab.server import LabServer

DEFAULT_CONCURRENCY = 8
FALLBACK_BUILD = (15, 0, 847, 32)  # Exchange 2013 SP1: a schema every supported on-premises server understands
_SAMPLE_TYPES = {"usermailbox", "sharedmailbox", "roommailbox", "equipmentmailbox"}


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


@dataclass(frozen=True, slots=True)
class TargetOptions:
    """Where to audit and how to log in; the passwords never show in repr and are never written anywhere."""

    server: str
    port: int
    path: str = "/PowerShell"
    scheme: str = "https"  # http | https
    auth: str = "kerberos"  # kerberos | negotiate | ntlm | basic | certificate
    ca_bundle: Path | None = None
    insecure: bool = False
    ews_url: str | None = None
    audit_username: str = ""
    audit_password: str | None = field(default=None, repr=False)
    service_username: str = ""
    service_password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 60.0
    concurrency: int = DEFAULT_CONCURRENCY
    deadline_seconds: float = 600.0
    probe_operation: str | None = None  # None: as each policy says; "calendarRead" | "calendarWrite"
    sample_seed: int | None = None
    client_cert: Path | None = None  # --auth certificate
    client_key: Path | None = None
    spn_host: str | None = None  # Kerberos: HTTP/<spn_host> instead of HTTP/<server> (alias, load balancer)
    service_keytab: str | None = None  # Kerberos: the service account's keytab (EXAUDIT_SERVICE_KEYTAB)

    @property
    def psrp_url(self) -> str:
        """The PowerShell endpoint URL (no credentials)."""
        return f"{self.scheme}://{self.server}:{self.port}/{self.path.strip('/')}"

    @property
    def resolved_ews_url(self) -> str:
        """The EWS URL: as given, or ``<scheme>://<server>:<port>/EWS/Exchange.asmx``."""
        return self.ews_url or f"{self.scheme}://{self.server}:{self.port}/EWS/Exchange.asmx"

    @property
    def cert_validation(self) -> bool | str:
        """TLS verification for both clients: a CA bundle, the system store, or off (--insecure)."""
        if self.insecure:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What ``exaudit demo`` produced: the snapshot, the findings, and which lab it ran against."""

    snapshot: Snapshot
    findings: tuple[Finding, ...]
    policies: tuple[LoadedPolicy, ...]
    lab_description: str
    scenario: str


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
    """``n`` random mailboxes (seeded) neither expected in scope, nor members of the scope's group, nor canaries."""
    group_dns = {
        g.distinguished_name.casefold()
        for g in state.groups
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
    pool = sorted(
        r.primary_smtp_address.casefold()
        for r in state.recipients
        if r.recipient_type_details.casefold() in _SAMPLE_TYPES
        and r.primary_smtp_address
        and r.primary_smtp_address.casefold() not in excluded
        and not ({dn.casefold() for dn in r.member_of} & group_dns)
    )
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


def probe_concurrency(requested: int, policy: ThrottlingPolicy | None) -> int:
    """The number of parallel probes: as requested, capped by the account's EWSMaxConcurrency budget."""
    limit = policy.ews_max_concurrency if policy is not None else None
    return max(1, min(requested, limit) if limit else requested)


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
            spn_host=target.spn_host,
        )
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


def _check_target(target: TargetOptions) -> None:
    # An endpoint is copied into the snapshot and every report (Target, RunInfo): credentials written into it
    # would be published with them. Passwords come from the environment, a file or Kerberos, never from an URL.
    # The message names the option, not its value.
    if "@" in target.server:
        raise UsageError(
            "--server holds credentials ('user:password@host'); give the password through "
            "EXAUDIT_AUDIT_PASSWORD or --audit-password-file, never in the server name"
        )
    if target.ews_url is not None:
        parts = urllib.parse.urlsplit(target.ews_url)
        if parts.username is not None or parts.password is not None:
            raise UsageError(
                "--ews-url holds credentials; give the service account's password through "
                "EXAUDIT_SERVICE_PASSWORD or --service-password-file, never in the URL"
            )
    if target.scheme not in ("http", "https"):
        raise UsageError(f"--scheme must be http or https, not {target.scheme!r}")
    if target.auth not in AUTH_METHODS:
        raise UsageError(f"--auth must be one of {', '.join(AUTH_METHODS)}, not {target.auth!r}")


def read_only_snapshot(
    service_account: str, target: TargetOptions, *, progress: ProgressSink | None = None
) -> Snapshot:
    """Collect the state for one service account without probing it (for `exaudit export`)."""
    _check_target(target)
    collected_at = _now()
    state = _read_state([service_account], target, progress)
    return _snapshot(state, target, collected_at, service_account, (), None)


def collect(
    policies: Sequence[LoadedPolicy],
    target: TargetOptions,
    *,
    progress: ProgressSink | None = None,
    after_create: object | None = None,
) -> Snapshot:
    """Collect the Exchange state over PowerShell remoting and probe the mailboxes over EWS; returns the snapshot.

    A failure to reach either endpoint does not raise: it is recorded (failed calls, ERROR probe outcomes, an
    incomplete probe run) so that the evaluation reports ERROR for exactly the checks that lacked data.

    Raises:
        UsageError: the target options cannot work (e.g. an unknown authentication method).
    """
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
    concurrency = probe_concurrency(target.concurrency, applicable_throttling_policy(state, principals))
    started = _now()

    def not_run(reason: str) -> tuple[tuple[Probe, ...], ProbeRun]:
        run = ProbeRun(started, _now(), concurrency, target.deadline_seconds, completed=False, error=reason)
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
        return prober.run(targets, progress)
    finally:
        prober.close()


def run(
    policies: Sequence[LoadedPolicy],
    target: TargetOptions,
    now: dt.datetime,
    *,
    progress: ProgressSink | None = None,
) -> tuple[Snapshot, tuple[Finding, ...]]:
    """Collect, probe and evaluate every policy against the live target."""
    from audit.evaluate import evaluate_all  # noqa: PLC0415  (the core is imported only when evaluating)

    snapshot = collect(policies, target, progress=progress)
    return snapshot, tuple(evaluate_all(policies, snapshot, now))


def default_policy_path() -> Path:
    """``policies/callpro.yaml``: shipped in the package (audit/policies) or found beside it in a checkout.

    Raises:
        UsageError: the policy is in neither place.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "policies" / "callpro.yaml", here.parent / "policies" / "callpro.yaml"):
        if candidate.is_file():
            return candidate
    raise UsageError("policies/callpro.yaml is not installed with exaudit; reinstall the package")


def demo(
    scenario: str = "compliant",
    *,
    mailboxes: int | None = None,
    progress: ProgressSink | None = None,
    policy_path: Path | None = None,
    now: dt.datetime | None = None,
) -> DemoResult:
    """Start the embedded lab in-process, audit it with ``policies/callpro.yaml``, stop it; nothing is written."""
    from audit.lab.server import LabServer  # noqa: PLC0415  (the lab is loaded for the demo only)
    from audit.policy import load_policy  # noqa: PLC0415

    policy = load_policy(policy_path or default_policy_path())
    # The demo logs on with the lab's generated passwords (NTLM); a realm configured for `lab serve` is not used.
    with LabServer(scenario=scenario, mailboxes=mailboxes, kerberos_keytab="") as lab:
        target = lab_target(lab)
        snapshot, findings = run([policy], target, now or dt.datetime.now(dt.UTC), progress=progress)
        description = f"embedded lab, scenario {scenario} ({lab.base_url})"
    return DemoResult(snapshot, findings, (policy,), description, scenario)


def lab_target(lab: LabServer, *, auth: str = "ntlm", **overrides: Any) -> TargetOptions:
    """TargetOptions for a running lab with its generated credentials (NTLM with message encryption by default)."""
    creds = lab.credentials
    tls = lab.ca_cert_path is not None
    values: dict[str, Any] = {
        "server": "127.0.0.1",
        "port": lab.port,
        "path": "/PowerShell",
        "scheme": "https" if tls else "http",
        "auth": auth,
        "ca_bundle": lab.ca_cert_path,
        "audit_username": creds.auditor_username,
        "audit_password": creds.auditor_password,
        "service_username": creds.service_username,
        "service_password": creds.service_password,
        "timeout_seconds": 30.0,
        "deadline_seconds": 120.0,
    }
    values.update(overrides)
    return TargetOptions(**values)
