"""The live audit of Exchange Online: collect over InvokeCommand and Graph, probe over Graph, seal one snapshot.

``audit.run.collect`` hands an :class:`audit.target.exo.ExchangeOnline` target here. As on premises, a failure to
reach an endpoint does not raise: it is recorded (failed calls, ERROR probes, an incomplete probe run) so the
evaluation reports ERROR for exactly the checks that lacked data. No token or secret is written anywhere.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from audit import __version__
from audit.collect.collector import EXCHANGE_ONLINE, CollectedState
from audit.collect.exo import ExoApp, collect_exo_state, exo_call_count
from audit.errors import ProbeError
from audit.policy import LoadedPolicy
from audit.probe.interface import ProbeSettings, ProbeTarget, not_probed
from audit.run import ProgressSink, _now, _probe_operation, probe_targets
from audit.snapshot import Probe, ProbeRun, Snapshot
from audit.target.exo import ExchangeOnline
from audit.target.tokens import TokenSource

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def apps_of(policies: Sequence[LoadedPolicy]) -> list[ExoApp]:
    """The app principals of the policies (``principal.app``), each once."""
    apps: dict[str, ExoApp] = {}
    for p in policies:
        app = p.spec.principal.app
        if app is not None:
            key = str(app.app_id).casefold()
            apps.setdefault(key, ExoApp(str(app.app_id), str(app.service_principal_id), app.display_name or ""))
    return list(apps.values())


def _read(
    target: ExchangeOnline,
    apps: Sequence[ExoApp],
    resources: Callable[[CollectedState], Sequence[str]] | None,
    progress: ProgressSink | None,
    tokens: TokenSource,
) -> CollectedState:
    runner = target.runner(tokens)
    graph = target.graph(tokens)
    plan = len(EXCHANGE_ONLINE.calls)

    def phase_two(state: CollectedState) -> Sequence[str]:
        # The per-mailbox tests and the Entra reads are known only once the recipients are read.
        found = list(resources(state)) if resources is not None else []
        if progress is not None:
            progress.finish()
            progress.start(exo_call_count(len(apps), len(found)) - plan, "testing authorization and reading Entra")
        return found

    if progress is not None:
        progress.start(plan, "reading Exchange Online over the Admin API")
    try:
        return collect_exo_state(
            runner,
            graph,
            apps,
            resources=phase_two,
            timeout=target.timeout_seconds,
            on_call=(lambda _call: progress.advance(1)) if progress is not None else None,
        )
    finally:
        runner.close()
        graph.close()
        if progress is not None:
            progress.finish()


def _snapshot(
    state: CollectedState,
    target: ExchangeOnline,
    collected_at: str,
    principal: str,
    probes: tuple[Probe, ...],
    probe_run: ProbeRun | None,
) -> Snapshot:
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    return Snapshot(
        tool_version=__version__,
        collected_at=collected_at,
        finished_at=_now(),
        target=target.describe(principal),
        probes=probes,
        probe_run=probe_run,
        **fields,
    )


def read_only_exo(app_id: str, target: ExchangeOnline, *, progress: ProgressSink | None = None) -> Snapshot:
    """Collect the tenant's state (for one app when ``app_id`` is an application id) without probing."""
    target.validate()
    collected_at = _now()
    apps = [ExoApp(app_id, "")] if _GUID.match(app_id) else []
    state = _read(target, apps, None, progress, target.auditor_tokens())
    return _snapshot(state, target, collected_at, app_id, (), None)


def collect_exo(
    policies: Sequence[LoadedPolicy],
    target: ExchangeOnline,
    *,
    progress: ProgressSink | None = None,
    after_create: object | None = None,
    issued_tokens: list[str] | None = None,
) -> Snapshot:
    """Collect and probe Exchange Online for the policies' apps; ``issued_tokens`` (tests) gets every token used.

    Raises:
        UsageError: the target options cannot work.
    """
    target.validate()
    collected_at = _now()
    apps = apps_of(policies)
    tokens = target.auditor_tokens()

    def resources(state: CollectedState) -> list[str]:
        return [t.mailbox for t in probe_targets(policies, state, target.sample_seed)]

    state = _read(target, apps, resources, progress, tokens)
    targets = probe_targets(policies, state, target.sample_seed)
    probes, probe_run, probe_tokens = _probe(policies, target, targets, progress, after_create)
    if issued_tokens is not None:
        issued_tokens.extend(tokens.acquired)
        if probe_tokens is not None:
            issued_tokens.extend(probe_tokens.acquired)
    principal = ", ".join(a.app_id for a in apps)
    return _snapshot(state, target, collected_at, principal, probes, probe_run)


def _probe(
    policies: Sequence[LoadedPolicy],
    target: ExchangeOnline,
    targets: Sequence[ProbeTarget],
    progress: ProgressSink | None,
    after_create: object | None,
) -> tuple[tuple[Probe, ...], ProbeRun | None, TokenSource | None]:
    if not targets:
        return (), None, None
    operation = _probe_operation(policies, target.probe_operation)
    settings = ProbeSettings(
        concurrency=max(1, target.concurrency),
        deadline_seconds=target.deadline_seconds,
        request_timeout=target.timeout_seconds,
        operation=operation,
    )
    started = _now()
    try:
        tokens = target.prober_tokens()
        prober = target.graph_prober(tokens, settings, after_create=after_create if callable(after_create) else None)
    except ProbeError as exc:
        run = ProbeRun(
            started, _now(), settings.concurrency, settings.deadline_seconds, completed=False, error=str(exc)
        )
        return not_probed(targets, operation, str(exc)), run, None
    try:
        probes, run = prober.run(targets, progress)
        return probes, run, tokens
    finally:
        prober.close()
