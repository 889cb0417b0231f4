"""Checks decided from the recorded probes: EXA050 (in scope: allowed) and EXA051 (canaries: refused).

A service account is probed through EWS impersonation, an Exchange Online app through Microsoft Graph with its own
credentials (403 ErrorAccessDenied is its refusal; a 404 proves nothing and is ERROR).

Only ErrorImpersonateUserDenied proves a mailbox is outside the scope; ErrorImpersonationDenied means the account
has no impersonation right at all, which says nothing about the scope.
https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/responsecode
"""

from __future__ import annotations

import dataclasses

from audit.evaluate.apps import mailbox_grants
from audit.evaluate.checks import GROUPS, RECIPIENTS
from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import key
from audit.evaluate.exo import propagating
from audit.evaluate.powershell import ps
from audit.evaluate.sample import outside_pool
from audit.evaluate.scope import listing, out_of_reach
from audit.findings import Severity, Status
from audit.snapshot import Probe, ProbeOutcome

EVIDENCE_OK = 20  # probes that went as intended, quoted as samples; every other probe is quoted

# The probe operations whose success proves the operation a policy asks for: a write probe (GetFolder, then
# CreateItem and DeleteItem in the calendar) also proved the read; a read probe proved nothing about writing.
PROVES = {"calendarRead": frozenset({"calendarRead", "calendarWrite"}), "calendarWrite": frozenset({"calendarWrite"})}


def _refusal(ctx: Context) -> str:
    """The answer that proves a mailbox is out of reach: EWS for a service account, Microsoft Graph for an app."""
    return "403 ErrorAccessDenied" if ctx.is_app else "ErrorImpersonateUserDenied"


def _propagating(ctx: Context, expect: str) -> str:
    """For an app, the "propagating" message when its failing probes may only show Exchange's permission cache."""
    if not ctx.is_app:
        return ""
    return propagating(ctx, expect, {key(p.mailbox): p.outcome for p in _latest(ctx, expect).values()})


def _run_problem(ctx: Context) -> str:
    run = ctx.snapshot.probe_run
    if run is None:
        return "no probes were run (the snapshot has no probe run); collect with probes to decide this check"
    target = key(ctx.snapshot.target.service_account)
    principal = key(ctx.policy.spec.principal.service_account)
    app = ctx.policy.spec.principal.app
    if app is not None and target and target not in (key(app.app_id), key(app.service_principal_id)):
        # Graph probes run with the integration app's own credentials; another app's probes prove nothing here.
        return f"the probes were run as app {ctx.snapshot.target.service_account}, not as the policy's app {app.app_id}"
    if principal and target and target != principal:
        return (
            f"the probes were run as {ctx.snapshot.target.service_account}, not as the policy's principal "
            f"{ctx.policy.spec.principal.service_account}"
        )
    return ""


def _bounded(lines: list[str], limit: int = 200) -> tuple[str, ...]:
    if len(lines) <= limit:
        return tuple(lines)
    return (*lines[:limit], f"... and {len(lines) - limit} more probe(s)")


def _latest(ctx: Context, expect: str) -> dict[str, Probe]:
    found: dict[str, Probe] = {}
    for probe in ctx.snapshot.probes:
        if probe.expect == expect:
            found[key(probe.mailbox)] = probe  # a later record of the same mailbox wins (retries)
    return found


def _line(p: Probe) -> str:
    return (
        f"probe {p.mailbox} expect={p.expect} source={p.source} operation={p.operation} outcome={p.outcome} "
        f"ResponseCode={p.response_code or '-'} attempts={p.attempts}" + (f" detail={p.detail!r}" if p.detail else "")
    )


def _by_reason(entries: list[tuple[str, str]]) -> str:
    """``reason: a, b, c; other reason: d``: one cause said once, however many mailboxes it hit."""
    groups: dict[str, list[str]] = {}
    for mailbox, reason in entries:
        groups.setdefault(reason, []).append(mailbox)
    return "; ".join(f"{reason}: {listing(mailboxes)}" for reason, mailboxes in groups.items())


def _incomplete(ctx: Context) -> str:
    run = ctx.snapshot.probe_run
    if run is not None and not run.completed:
        return f"the probe run did not complete ({run.error or 'cut short'})"
    return "no probe was recorded"


def _with_reasons(ctx: Context, failed: list[str], denied: dict[int, str]) -> tuple[list[str], list[str]]:
    """The failures with EXA040's reason for each refusal it can explain, and one evidence line per reason.

    A mailbox refused as outside the scope that an exclusive scope takes away, or that the scope's RecipientRoot
    does not contain, is named with that reason in EXA040's words instead of "outside the scope"
    (scope.out_of_reach), so the two findings tell one story. Only the wording changes: the refusal is a failure
    whatever its reason, and a refusal EXA040 cannot explain keeps "outside the scope".
    """
    if not denied:
        return failed, []
    reasons = out_of_reach(ctx, list(denied.values()))
    if not reasons:
        return failed, []
    out = list(failed)
    evidence: list[str] = []
    for index, mailbox in denied.items():
        reason = reasons.get(mailbox)
        if reason:
            out[index] = out[index].removesuffix("(outside the scope)") + f"({reason}, see EXA040)"
            evidence.append(f"effective scope (EXA040): {mailbox} {reason}")
    return out, evidence


def exa050(ctx: Context) -> Verdict:
    """Every mailbox expected in scope was impersonated successfully; write-probe leftovers are reported with it."""
    verdict = _exa050(ctx)
    run = ctx.snapshot.probe_run
    if run is not None and run.concurrency_note and verdict.status is not Status.SKIP:
        # Fewer probes in flight than asked because the throttling budget was unknown: said where it is read.
        verdict = dataclasses.replace(
            verdict, evidence=(*verdict.evidence, f"probe concurrency: {run.concurrency_note}")
        )
    if run is None or run.leftovers_found is None or verdict.status is Status.SKIP:
        return verdict
    # Items an earlier write probe left behind (a run killed between CreateItem and DeleteItem) are test data in
    # users' calendars: said in the finding every time they are found, with where and whether they were removed.
    evidence = (*verdict.evidence, f"write-probe items of earlier runs found: {run.leftovers_found}, removed: "
                f"{run.leftovers_removed}", *run.leftovers)  # fmt: skip
    message = verdict.message
    if run.leftovers_found or run.leftovers:
        left = run.leftovers_found - run.leftovers_removed
        message += (
            f" {run.leftovers_found} write-probe item(s) left by earlier runs were found in the probed calendars; "
            f"{run.leftovers_removed} removed, {left} left in place"
            + ("; the search or removal failed in some calendars" if any("failed" in x for x in run.leftovers) else "")
            + " (see evidence)."
        )
    return dataclasses.replace(verdict, message=message, evidence=evidence)


def _exa050(ctx: Context) -> Verdict:
    probes = ctx.policy.spec.probes
    assert probes is not None
    wanted = (
        sorted(ctx.policy.expected_members.required)
        if probes.allow == "groupMembers"
        else sorted(key(a) for a in probes.allow)
    )
    expected = f"{len(wanted)} mailbox(es) allowed"
    problem = _run_problem(ctx)
    if problem:
        return Verdict(
            Status.ERROR,
            f"Cannot tell whether the in-scope mailboxes can be impersonated: {problem}.",
            expected=expected,
            actual="not probed",
        )
    if not wanted:
        return Verdict(Status.SKIP, "The policy expects no mailbox in scope to probe.")
    seen = _latest(ctx, "allow")
    failed: list[str] = []
    denied: dict[int, str] = {}  # index in failed -> mailbox refused as outside the scope
    unknown: list[tuple[str, str]] = []
    evidence: list[str] = []
    for mailbox in wanted:
        p = seen.get(mailbox)
        if p is None:
            unknown.append((mailbox, _incomplete(ctx)))
            continue
        if p.outcome is ProbeOutcome.ALLOWED and p.operation not in PROVES.get(probes.operation, ()):
            evidence.append(_line(p))
            unknown.append((mailbox, f"probed with {p.operation} only, the policy needs {probes.operation}"))
            continue
        if p.outcome is ProbeOutcome.ALLOWED:
            if len(evidence) < EVIDENCE_OK:
                evidence.append(_line(p))
            continue
        evidence.append(_line(p))
        if p.outcome is ProbeOutcome.NO_MAILBOX and ctx.is_app:
            # Graph 404 (no such user, MailboxNotEnabledForRESTAPI) says nothing about the app's access.
            unknown.append((mailbox, f"no mailbox to probe ({p.response_code or '404'})"))
        elif p.outcome is ProbeOutcome.DENIED:
            denied[len(failed)] = mailbox
            failed.append(f"{mailbox} refused with {p.response_code or _refusal(ctx)} (outside the scope)")
        elif p.outcome is ProbeOutcome.NO_IMPERSONATION_RIGHT:
            # Observed: the account holds no working impersonation right at all (disabled/Delegating-only grant).
            failed.append(
                f"{mailbox} refused with {p.response_code or 'ErrorImpersonationDenied'} (no impersonation "
                "right at all)"
            )
        elif p.outcome is ProbeOutcome.NO_MAILBOX:
            failed.append(f"{mailbox} has no mailbox ({p.response_code or 'ErrorNonExistentMailbox'})")
        else:
            unknown.append((mailbox, f"{p.outcome} {p.response_code} {p.detail}".strip()))
    failed, why = _with_reasons(ctx, failed, denied)
    evidence.extend(why)
    allowed = len(wanted) - len(failed) - len(unknown)
    actual = f"{allowed} of {len(wanted)} allowed"
    waiting = _propagating(ctx, "allow") if failed else ""
    if waiting:
        return Verdict(
            Status.ERROR,
            waiting[:1].upper() + waiting[1:] + ".",
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
        )
    if failed:
        msg = f"{len(failed)} in-scope mailbox(es) cannot be impersonated: {listing(failed)}"
        if unknown:
            msg += f"; {len(unknown)} undecided: {_by_reason(unknown)}"
        return Verdict(
            Status.FAIL,
            msg + ".",
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
            remediation=f"# Fix the scope and membership findings, then re-run: exaudit run {ps(ctx.policy.path.name)}",
        )
    if unknown:
        return Verdict(
            Status.ERROR,
            f"{len(unknown)} in-scope mailbox(es) undecided: {_by_reason(unknown)}.",
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
        )
    return Verdict(
        Status.PASS,
        f"All {len(wanted)} in-scope mailbox(es) were {'reached' if ctx.is_app else 'impersonated'} "
        f"({probes.operation}).",
        expected=expected,
        actual=actual,
        evidence=_bounded(evidence),
    )


def _pool(ctx: Context) -> list[str] | None:
    """The recipients outside the scope the sample is drawn from, or None when membership was not read."""
    if not all(ctx.snapshot.call_status(cmdlet)[0] for cmdlet in (GROUPS, RECIPIENTS)):
        return None  # the runner drew no sample either (audit.run._membership_read); the sample stays undecided
    return outside_pool(ctx.policy, ctx.snapshot.groups, ctx.snapshot.recipients)


def exa051(ctx: Context) -> Verdict:
    """Every canary (and sampled out-of-scope recipient) was refused with ErrorImpersonateUserDenied."""
    probes = ctx.policy.spec.probes
    assert probes is not None
    canaries = [key(c) for c in probes.deny.canaries]
    problem = _run_problem(ctx)
    expected = f"every canary refused with {_refusal(ctx)}"
    if problem:
        return Verdict(
            Status.ERROR,
            f"Cannot tell whether the canaries are out of reach: {problem}.",
            expected=expected,
            actual="not probed",
        )
    seen = _latest(ctx, "deny")
    # Samples are recorded without the policy that asked for them: in a run of several policies, a mailbox
    # sampled for another policy may be one this policy allows, and its ALLOWED outcome is no breach here.
    allowed = set(ctx.policy.expected_members.required) | set(ctx.policy.expected_members.at_most or ())
    if probes.allow != "groupMembers":
        allowed |= {key(a) for a in probes.allow}
    sampled = (
        [m for m, p in seen.items() if p.source == "sample" and m not in canaries and m not in allowed]
        if probes.deny.sample
        else []
    )
    note, capped = "", ""
    if probes.deny.sample and ctx.snapshot.probe_run is not None:
        pool = _pool(ctx)
        if pool is not None and len(pool) < probes.deny.sample:
            # Fewer recipients outside the scope exist than the sample asks for: the runner probes the whole pool,
            # and the sample is complete when every one of them was refused. Each is checked below, so a pool
            # member without a probe record stays undecided (fail closed).
            sampled = sorted({*sampled, *pool})
            capped = (
                f"all {len(pool)} recipient(s) outside the scope probed, sample {probes.deny.sample} capped"
                if pool
                else f"no recipient exists outside the scope to sample: sample {probes.deny.sample} capped to 0"
            )
        elif len(sampled) < probes.deny.sample:
            note = f"only {len(sampled)} of {probes.deny.sample} sampled recipients were probed"
    breached: list[str] = []
    unknown: list[tuple[str, str]] = []
    evidence: list[str] = []
    for mailbox in [*canaries, *sampled]:
        p = seen.get(mailbox)
        if p is None:
            unknown.append((mailbox, _incomplete(ctx)))
            continue
        if p.outcome is ProbeOutcome.DENIED:
            if len(evidence) < EVIDENCE_OK:
                evidence.append(_line(p))
            continue
        evidence.append(_line(p))
        if p.outcome is ProbeOutcome.ALLOWED:
            breached.append(mailbox)
        else:
            # Refused for another reason (no impersonation right, no mailbox, 401, error): the scope is unproven.
            unknown.append((mailbox, f"{p.outcome} {p.response_code} {p.detail}".strip()))
    if capped:
        evidence.insert(0, f"sample: {capped}")
    actual = f"{len(breached)} reachable, {len(unknown)} undecided of {len(canaries) + len(sampled)}"
    undecided = "; ".join(x for x in (_by_reason(unknown) if unknown else "", note) if x)
    waiting = _propagating(ctx, "deny") if breached else ""
    if waiting:
        return Verdict(
            Status.ERROR,
            waiting[:1].upper() + waiting[1:] + ".",
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
        )
    if breached:
        who = "The app CAN reach" if ctx.is_app else "The service account CAN impersonate"
        msg = (
            f"{who} {len(breached)} mailbox(es) that must stay out of reach: {listing(breached)}. "
            "The scope does not hold."
        )
        if ctx.is_app and mailbox_grants(ctx):
            msg += " An Entra application permission of the app reaches every mailbox (EXA074)."
        if undecided:
            msg += f" Undecided: {undecided}."
        return Verdict(
            Status.FAIL,
            msg,
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
            severity=Severity.CRITICAL,
            remediation=(
                "# Remove the app's Entra application permission first (EXA074), then re-run: "
                if ctx.is_app and mailbox_grants(ctx)
                else "# Restrict the assignment (EXA012, EXA013) and the scope (EXA020, EXA021) now; then re-run: "
            )
            + f"exaudit run {ps(ctx.policy.path.name)}",
        )
    if undecided:
        return Verdict(
            Status.ERROR,
            f"Canaries not proven out of reach: {undecided}.",
            expected=expected,
            actual=actual,
            evidence=_bounded(evidence),
        )
    if not canaries and not sampled:
        if capped:
            # Nothing outside the scope exists, so nothing was refused: not a PASS of "refused".
            return Verdict(Status.SKIP, f"The policy names no canary and {capped}; nothing was proven refused.")
        return Verdict(Status.SKIP, "The policy names no canary and asks for no sample.")
    return Verdict(
        Status.PASS,
        f"All {len(canaries) + len(sampled)} canary/sampled mailbox(es) were refused with {_refusal(ctx)}"
        + (f" ({capped})." if capped else "."),
        expected=expected,
        actual=actual,
        evidence=_bounded(evidence),
    )
