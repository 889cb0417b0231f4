"""The exaudit command line: the only place with argv, environment, stdout/stderr and exit codes.

Payload goes to files (or stdout when a path is ``-``); progress and the summary go to stderr. Every error is
mapped to one clear line and an exit code from :class:`audit.findings.ExitCode`; there is no traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from audit import __version__
from audit.errors import (
    CollectionError,
    ExauditError,
    PolicyError,
    ProbeError,
    ReportError,
    SnapshotError,
    UsageError,
)
from audit.files import DEFAULT_FILE_MODE, parse_file_mode, write_private
from audit.findings import AuditResult, ExitCode, Finding, RunInfo, collection_incomplete, decide_exit_code

if TYPE_CHECKING:
    from audit.policy import LoadedPolicy
    from audit.snapshot import Probe, Snapshot

EXIT_CODES_HELP = """\
exit codes:
  0  compliant: every check passed (waived checks are skipped, with their reason)
  1  non-compliant: at least one check failed
  2  usage error or invalid policy (the message names file:line:column)
  3  state unknown: collection failed, a probe errored, or a snapshot is unreadable or tampered (fail closed)
  4  nothing was evaluated
  When several apply, the most severe wins: 2 > 3 > 1 > 0.

environment defaults (flags win):
  EXAUDIT_REPORT_DIR, EXAUDIT_SERVER, EXAUDIT_PORT, EXAUDIT_SCHEME, EXAUDIT_AUTH, EXAUDIT_CA_BUNDLE,
  EXAUDIT_EWS_URL, EXAUDIT_AUDIT_USER, EXAUDIT_SERVICE_USER, EXAUDIT_CONCURRENCY, EXAUDIT_DEADLINE,
  EXAUDIT_CLIENT_CERT, EXAUDIT_CLIENT_KEY
  Exchange Online: EXAUDIT_TENANT, EXAUDIT_CLIENT_ID, EXAUDIT_PROBE_CLIENT_ID, EXAUDIT_AUTHORITY_URL,
  EXAUDIT_ADMINAPI_URL, EXAUDIT_GRAPH_URL
secrets (never on the command line):
  EXAUDIT_CLIENT_SECRET or --client-secret-file     the auditing app (Exchange Online; or --client-cert/--client-key)
  EXAUDIT_PROBE_CLIENT_SECRET or --probe-client-secret-file  the integration's app (Exchange Online probes)
  EXAUDIT_AUDIT_PASSWORD or --audit-password-file   the auditing account (PowerShell remoting)
  EXAUDIT_SERVICE_PASSWORD or --service-password-file the integration's service account (EWS probes)
  with --auth kerberos the auditing account needs no password: a ticket from kinit, or its keytab in
  KRB5_CLIENT_KTNAME; the EWS probes always log on as the service account with its own keytab
  (EXAUDIT_SERVICE_KEYTAB) or password (EXAUDIT_SERVICE_PASSWORD), never with the runner's ticket
"""

REPORT_FLAGS = ("html", "junit", "json", "sarif", "markdown")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse without abbreviations and without echoing what it did not recognize.

    A mistyped ``--password hunter2`` would otherwise be printed back (``unrecognized arguments: --password
    hunter2``), and ``--service-password hunter2`` would be taken as an abbreviation of --service-password-file
    and named in a "cannot read" message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        from audit.preflight import redact_unrecognized

        super().error(redact_unrecognized(message))


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"EXAUDIT_{name}")
    return value if value not in (None, "") else default


def _ranged(kind: type[int] | type[float], low: float, high: float, *, low_open: bool = False) -> Any:
    """An argparse ``type`` that reads a number and refuses it outside [low, high] (or (low, high]): exit code 2."""

    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if math.isnan(value) or value > high or value < low or (low_open and value == low):
            shown = f"more than {low:.0f}" if low_open else f"at least {low:.0f}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: must be {shown} and at most {high:.0f}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its "invalid ... value" message
    return convert


# Bounds: a probe run wider than 256 only earns throttling (EwsMaxConcurrency is 27 in the default
# policy, shared/domain exchange-outputs.md: Get-ThrottlingPolicy); a run or call longer
# than a day is a hang, not a measurement; the lab is a test fixture, not a load generator.
_CONCURRENCY = _ranged(int, 1, 256)
_DEADLINE = _ranged(float, 0, 86_400, low_open=True)
_TIMEOUT = _ranged(float, 0, 86_400, low_open=True)
_PORT = _ranged(int, 1, 65_535)
_LAB_PORT = _ranged(int, 0, 65_535)
_SEED = _ranged(int, 0, 2**32 - 1)
_MAILBOXES = _ranged(int, 1, 100_000)
_LATENCY_MS = _ranged(int, 0, 60_000)
# PowerShell sessions collecting at once: the account's PowerShellMaxConcurrency (18 in the default throttling
# policy, exchange-outputs.md section 4.8) also counts its admins' shells, so a few, never close to it.
_PSRP_POOLS = _ranged(int, 1, 8)


def _add_report_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reports (a path, or - for stdout)")
    g.add_argument("--report-dir", type=Path, default=_env("REPORT_DIR"), help="write every format into DIR")
    g.add_argument("--html", metavar="PATH", help="self-contained HTML report")
    g.add_argument("--junit", metavar="PATH", help="JUnit XML (one testcase per check)")
    g.add_argument("--json", metavar="PATH", help="JSON findings")
    g.add_argument("--sarif", metavar="PATH", help="SARIF 2.1.0 (code scanning)")
    g.add_argument("--markdown", metavar="PATH", help="Markdown summary (CI job summary)")
    g.add_argument(
        "--html-jenkins",
        metavar="DIR",
        type=Path,
        help="HTML report for Jenkins' default CSP: DIR/report.html with report.css and report.js beside it",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no summary and no progress on stderr")


def _add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target (secrets come from the environment or a file, never from argv)")
    g.add_argument("--server", default=_env("SERVER"), help="Exchange server host name (PowerShell and EWS)")
    g.add_argument("--port", type=_PORT, default=_env("PORT"), help="port (default 80/443)")
    g.add_argument("--path", default="/PowerShell", help="PowerShell remoting path (default /PowerShell)")
    g.add_argument("--scheme", choices=("http", "https"), default=_env("SCHEME", "https"))
    g.add_argument(
        "--auth",
        choices=("kerberos", "negotiate", "ntlm", "basic", "certificate"),
        default=_env("AUTH", "kerberos"),
        help="authentication for PowerShell remoting (Exchange on-premises expects kerberos)",
    )
    g.add_argument("--ca-bundle", type=Path, default=_env("CA_BUNDLE"), help="CA bundle to verify TLS with")
    g.add_argument("--client-cert", type=Path, default=_env("CLIENT_CERT"), help="PEM certificate (--auth certificate)")
    g.add_argument("--client-key", type=Path, default=_env("CLIENT_KEY"), help="PEM private key (--auth certificate)")
    g.add_argument("--insecure", action="store_true", help="do NOT verify TLS certificates (loud; never in CI)")
    g.add_argument("--ews-url", default=_env("EWS_URL"), help="EWS URL (default: derived from --server)")
    g.add_argument("--audit-user", default=_env("AUDIT_USER"), help="auditing account (View-Only Org Management)")
    g.add_argument("--audit-password-file", type=Path, help="file holding the auditing account's password")
    g.add_argument("--service-user", default=_env("SERVICE_USER"), help="the integration's service account")
    g.add_argument("--service-password-file", type=Path, help="file holding the service account's password")
    g.add_argument(
        "--spn-host",
        default=_env("SPN_HOST"),
        help="Kerberos: the host of the HTTP/<host> SPN when --server is an alias or a load balancer",
    )
    g.add_argument("--timeout", type=_TIMEOUT, default=60.0, help="per cmdlet call timeout in seconds (default 60)")
    # String defaults go through `type` too (argparse converts them), so a bad EXAUDIT_* value is a usage error.
    g.add_argument("--concurrency", type=_CONCURRENCY, default=_env("CONCURRENCY", "8"), help="EWS probes in flight")
    g.add_argument(
        "--psrp-pools",
        type=_PSRP_POOLS,
        default=_env("PSRP_POOLS", "3"),
        help="PowerShell sessions reading Exchange at once (default 3, at most 8; 1: one cmdlet at a time)",
    )
    g.add_argument("--deadline", type=_DEADLINE, default=_env("DEADLINE", "600"), help="deadline for all probes, s")
    g.add_argument(
        "--probe",
        choices=("calendar-read", "calendar-write"),
        default=None,
        help="probe operation (default: the policy's; calendar-write creates and deletes a test item)",
    )
    g.add_argument("--sample-seed", type=_SEED, default=None, help="seed for the random out-of-scope sample")
    g.add_argument(
        "--max-reply-mib",
        type=_positive_mib,
        default=64.0,
        help="largest PowerShell remoting reply accepted, MiB (default 64); a larger one is an error",
    )
    g.add_argument(
        "--max-ews-reply-mib",
        type=_positive_mib,
        default=8.0,
        help="largest EWS reply accepted, MiB (default 8); a larger one is an error",
    )
    _add_exo_options(p)


def _positive_mib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MiB") from None
    if not 0 < value <= 4096:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and at most 4096 MiB")
    return value


def _mode(text: str) -> int:
    try:
        return parse_file_mode(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_file_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file-mode",
        type=_mode,
        default=_env("FILE_MODE", "0600"),
        metavar="OCTAL",
        help="mode of the files written (default 0600: they hold directory data); e.g. 0640",
    )


def _add_exo_options(p: argparse.ArgumentParser) -> None:
    """Exchange Online: chosen when the policy's principal is an app (``principal.app``)."""
    g = p.add_argument_group("Exchange Online (used when the policy's principal is an app; secrets never in argv)")
    g.add_argument("--tenant", default=_env("TENANT"), help="tenant id or initial domain (contoso.onmicrosoft.com)")
    g.add_argument("--client-id", default=_env("CLIENT_ID"), help="the auditing app's application (client) id")
    g.add_argument("--client-secret-file", type=Path, help="file holding the auditing app's client secret")
    g.add_argument("--probe-client-id", default=_env("PROBE_CLIENT_ID"), help="the integration app's client id")
    g.add_argument("--probe-client-secret-file", type=Path, help="file holding the integration app's client secret")
    g.add_argument("--probe-client-cert", type=Path, default=_env("PROBE_CLIENT_CERT"), help="its PEM certificate")
    g.add_argument("--probe-client-key", type=Path, default=_env("PROBE_CLIENT_KEY"), help="its PEM private key")
    g.add_argument("--authority-url", default=_env("AUTHORITY_URL"), help="token service (sovereign clouds)")
    g.add_argument(
        "--adminapi-url", default=_env("ADMINAPI_URL"), help="Admin API base (default outlook.office365.com)"
    )
    g.add_argument("--graph-url", default=_env("GRAPH_URL"), help="Microsoft Graph base (default graph.microsoft.com)")
    # Accepted only to refuse them with a clear message: a secret in argv is visible to every local user.
    g.add_argument("--client-secret", help=argparse.SUPPRESS)
    g.add_argument("--probe-client-secret", help=argparse.SUPPRESS)


def _add_baseline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("drift since an earlier run")
    g.add_argument("--baseline", type=Path, metavar="FILE", help="an earlier report.json or snapshot to compare with")
    g.add_argument(
        "--fail-on",
        choices=("any", "new"),
        default="any",
        help="exit 1 on any failing check (default), or only on checks failing since --baseline (ERROR still exits 3)",
    )


def _add_bundle_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("signed evidence bundle (exaudit verify checks it)")
    g.add_argument("--bundle", type=Path, metavar="DIR", help="write the snapshot, reports and a signed manifest")
    g.add_argument("--sign-key", type=Path, metavar="KEY", help="Ed25519 private key (PEM); default EXAUDIT_SIGN_KEY")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="exaudit",
        description="Prove that an integration's Exchange mailbox access is scoped exactly as intended.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"exaudit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, epilog=EXIT_CODES_HELP, formatter_class=_Formatter)

    p = add("validate", "validate policy files (schema and meaning; no network)")
    p.add_argument("policies", nargs="+", type=Path, metavar="POLICY")

    p = add("export", "write a policy that mirrors how a service account or an app holds its access today")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--service-account", help="UPN of the integration's service account (ApplicationImpersonation)")
    who.add_argument("--app-id", help="Exchange Online: Application (client) ID of the app (RBAC for Applications)")
    p.add_argument("--snapshot", type=Path, help="export from a snapshot instead of reading Exchange")
    p.add_argument("--name", help="metadata.name of the policy (default: derived from the account)")
    p.add_argument("--out", type=Path, help="policy file to write (default: stdout)")
    _add_target_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_file_mode(p)

    p = add(
        "migrate",
        "write the Exchange Online policy for an ApplicationImpersonation policy and print the PowerShell that "
        "moves it to RBAC for Applications (never run)",
    )
    p.add_argument("policy", type=Path, metavar="POLICY")
    p.add_argument("--app-id", help="Application (client) ID of the integration's Entra app")
    p.add_argument("--service-principal-id", help="Object ID of its Enterprise application (service principal)")
    p.add_argument("--display-name", help="display name of the service principal (default: the policy's name)")
    p.add_argument("--permission", help="Graph permission of the Application role (default: Calendars.ReadWrite)")
    p.add_argument("--ews", action="store_true", help="the app still uses EWS: add the EWS role and allow list")
    p.add_argument("--out", type=Path, help="write the policy here and print only the PowerShell")

    p = add("schema", "print the JSON Schema of the policy format (for editor completion)")
    p.add_argument("--out", type=Path, help="write to a file instead of stdout")
    _add_file_mode(p)

    p = add("evaluate", "evaluate policies against a snapshot, offline")
    p.add_argument("policies", nargs="+", type=Path, metavar="POLICY")
    p.add_argument("--snapshot", type=Path, required=True, help="snapshot written by `exaudit collect`")
    p.add_argument("--now", help="evaluate as of this ISO date/time (default: now); waivers expire against it")
    _add_report_options(p)
    _add_file_mode(p)
    _add_baseline_options(p)

    p = add("plan", "print the PowerShell that would bring Exchange to the policy (never run)")
    p.add_argument("policies", nargs="+", type=Path, metavar="POLICY")
    p.add_argument("--snapshot", type=Path, required=True)

    p = add("collect", "collect state and probe mailboxes; write a snapshot")
    p.add_argument("policies", nargs="+", type=Path, metavar="POLICY")
    p.add_argument("--out", type=Path, help="snapshot file to write (required unless --bundle is given)")
    _add_target_options(p)
    _add_bundle_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_file_mode(p)

    p = add("run", "collect, probe, evaluate and report: the CI gate")
    p.add_argument("policies", nargs="+", type=Path, metavar="POLICY")
    p.add_argument("--snapshot-out", type=Path, help="also keep the snapshot (evidence) here")
    _add_target_options(p)
    _add_report_options(p)
    _add_file_mode(p)
    _add_baseline_options(p)
    _add_bundle_options(p)

    p = add("demo", "start the embedded lab, audit it with the seed policy, write every report")
    p.add_argument("--scenario", default="compliant", help="lab scenario (see `exaudit lab scenarios`)")
    p.add_argument("--mailboxes", type=_MAILBOXES, default=None, help="grow the lab tenant to N mailboxes")
    p.add_argument("--out", type=Path, default=Path("exaudit-report"), help="folder for reports and snapshot")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_file_mode(p)

    lab = add("lab", "the embedded Exchange lab (WSMan/PSRP and EWS on 127.0.0.1)")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)
    s = lab_sub.add_parser("serve", help="serve a lab tenant until Ctrl-C; prints endpoints and credentials")
    s.add_argument("--scenario", default="compliant")
    s.add_argument("--mailboxes", type=_MAILBOXES, default=None)
    s.add_argument("--latency-ms", type=_LATENCY_MS, default=0)
    s.add_argument("--tls", action="store_true", help="serve https with a certificate generated at start")
    s.add_argument("--port", type=_LAB_PORT, default=0, help="port on 127.0.0.1 (default: any free port)")
    lab_sub.add_parser("scenarios", help="list the lab's scenarios and the checks each must fail")

    p = add("diff", "what changed between two runs: two report.json files, or two snapshots (exit 1 on drift)")
    p.add_argument("old", type=Path, metavar="OLD", help="the earlier report.json or snapshot")
    p.add_argument("new", type=Path, metavar="NEW", help="the later one, of the same kind")
    p.add_argument("--policy", type=Path, action="append", default=[], help="evaluate snapshots with this policy")
    p.add_argument("--now", help="evaluate snapshots as of this ISO date/time (default: now)")
    p.add_argument(
        "--fail-on", choices=("any", "new"), default="any", help="exit 1 on any drift, or only on new failures"
    )

    p = add("keygen", "write an Ed25519 key pair for signed bundles: PREFIX.key (0600, secret) and PREFIX.pub")
    p.add_argument("--out", type=Path, required=True, metavar="PREFIX", help="path prefix of the two key files")

    p = add("verify", "verify a signed evidence bundle: exit 0 when signed with KEY and unchanged, else 3")
    p.add_argument("bundle", type=Path, metavar="BUNDLE", help="the folder `--bundle` wrote")
    p.add_argument("--public-key", type=Path, required=True, metavar="KEY", help="PEM public key (PREFIX.pub)")

    p = add("completion", "print a shell completion script (bash: source <(exaudit completion bash))")
    p.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


# --- helpers -----------------------------------------------------------------------------------------------


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--now {text!r} is not an ISO 8601 date or date-time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _safe(value: object) -> str:
    """Any outside text (an error from a server, a name, a path) made inert before it reaches a terminal."""
    from audit.console import terminal_safe

    return terminal_safe(str(value))


def _load_policies(paths: Sequence[Path]) -> list[LoadedPolicy]:
    from audit.policy import load_policies

    return load_policies(list(paths))


def _write(path_text: str | Path, text: str, stdout: TextIO, mode: int = DEFAULT_FILE_MODE) -> None:
    if str(path_text) == "-":
        stdout.write(text)
        return
    path = Path(path_text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from exc


@dataclass(frozen=True, slots=True)
class _Written:
    fmt: str
    path: str


def write_reports(result: AuditResult, args: argparse.Namespace, stdout: TextIO) -> list[_Written]:
    """Render each requested format once and write it where asked."""
    from audit.report import FILE_NAMES, Format, render

    targets: dict[Format, list[str]] = {}
    report_dir: Path | None = getattr(args, "report_dir", None)
    if report_dir is not None:
        for fmt in Format:
            targets.setdefault(fmt, []).append(str(report_dir / FILE_NAMES[fmt]))
    for flag in REPORT_FLAGS:
        value = getattr(args, flag, None)
        if value:
            targets.setdefault(Format(flag), []).append(value)
    written: list[_Written] = []
    for fmt, paths in targets.items():
        text = render(fmt, result)
        for p in paths:
            _write(p, text, stdout, _file_mode(args))
            written.append(_Written(fmt.value, p))
    jenkins: Path | None = getattr(args, "html_jenkins", None)
    if jenkins is not None:
        from audit.report.html import render_external

        for name, text in render_external(result).items():
            _write(jenkins / name, text, stdout)
        written.append(_Written("html-jenkins", str(jenkins / "report.html")))
    return written


def _result(
    findings: Sequence[Finding],
    policies: Sequence[LoadedPolicy],
    target: str,
    snapshot: Snapshot | None,
    sha: str,
    now: datetime,
) -> AuditResult:
    from audit.subjects import subjects

    server = ""
    if snapshot is not None and snapshot.servers:
        server = snapshot.servers[0].admin_display_version
    info = RunInfo(
        tool_version=__version__,
        generated_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        policies=tuple(str(p.path) for p in policies),
        target=target,
        snapshot_sha256=sha,
        collected_at=snapshot.collected_at if snapshot is not None else "",
        server_version=server,
        subjects=subjects(policies),
    )
    incomplete = snapshot is not None and _incomplete(snapshot)
    return AuditResult(info=info, findings=tuple(findings), incomplete=incomplete)


def _incomplete(snapshot: Snapshot) -> bool:
    """Whether the snapshot's collection left anything unknown (the same test for run, collect and evaluate)."""
    return collection_incomplete(snapshot.calls, snapshot.probe_run, snapshot.probes)


def _summary(result: AuditResult, args: argparse.Namespace, stderr: TextIO) -> None:
    if getattr(args, "quiet", False):
        return
    from audit.report import console_summary

    text = console_summary(result, color=stderr.isatty())
    stderr.write(text if text.endswith("\n") else text + "\n")


def _file_mode(args: argparse.Namespace) -> int:
    mode: int = getattr(args, "file_mode", None) or DEFAULT_FILE_MODE
    return mode


def _write_snapshot(snapshot: Snapshot, path: Path, mode: int = DEFAULT_FILE_MODE) -> str:
    from audit import snapshot as snap

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return snap.write(snapshot, path, mode)
    except OSError as exc:
        raise ReportError(f"cannot write the snapshot {path}: {exc.strerror or exc}") from exc


def _check_snapshot_name(path: Path | None) -> None:
    """Refuse a snapshot name whose compression is unknown before collecting, not after (raises UsageError)."""
    if path is not None:
        from audit.snapfile import codec_for

        codec_for(path)


def _undecided_probes(snapshot: Snapshot) -> list[Probe]:
    """Probes that observed nothing (HTTP 401, timeout, 5xx, deadline): the mailbox's access is unknown."""
    from audit.snapshot import ProbeOutcome

    return [p for p in snapshot.probes if p.outcome in (ProbeOutcome.ERROR, ProbeOutcome.AUTH_FAILED)]


def _collection_problems(snapshot: Snapshot, stderr: TextIO, limit: int = 3) -> None:
    """Say once, plainly, why data is missing: the findings only say which checks could not tell."""
    run = snapshot.probe_run
    if run is not None and run.concurrency_note:
        stderr.write(f"exaudit: {run.concurrency_note}\n")
    problems: dict[str, list[str]] = {}
    for call in snapshot.calls:
        if not call.ok:
            # After a fatal transport failure the collector records the remaining calls as "not attempted: <the
            # same cause>": one cause, said once.
            error = (call.error or "unknown error").removeprefix("not attempted: ")
            problems.setdefault(error, []).append(call.cmdlet)
    if snapshot.probe_run is not None and snapshot.probe_run.error:
        problems.setdefault(snapshot.probe_run.error, []).append("probes")
    for probe in _undecided_probes(snapshot):
        problems.setdefault(probe.detail or probe.response_code or str(probe.outcome), []).append(probe.mailbox)
    for n, (error, where) in enumerate(problems.items()):
        if n == limit:
            stderr.write(f"exaudit: ... and {len(problems) - limit} more collection problem(s); see the reports\n")
            break
        stderr.write(
            f"exaudit: collection problem ({_safe(', '.join(where[:3]))}{'...' if len(where) > 3 else ''}): "
            f"{_safe(error)}\n"
        )


def _secret(env_name: str, file: Path | None, what: str) -> str | None:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read the {what} password file {file}: {exc.strerror or exc}") from exc
    value = os.environ.get(env_name)
    return value if value else None


def _target_options(args: argparse.Namespace, stderr: TextIO) -> Any:
    from audit.run import TargetOptions

    if not args.server:
        raise UsageError(
            "no target: give --server (or EXAUDIT_SERVER); to try exaudit without Exchange, run `exaudit demo`"
        )
    if args.insecure:
        stderr.write(
            "WARNING: --insecure: TLS certificates are NOT verified; anyone on the path can read the session\n"
        )
    audit_password = _secret("EXAUDIT_AUDIT_PASSWORD", args.audit_password_file, "auditing account")
    service_password = _secret("EXAUDIT_SERVICE_PASSWORD", args.service_password_file, "service account")
    if args.auth not in {"kerberos", "certificate"} and audit_password is None:
        raise UsageError(
            f"--auth {args.auth} needs the auditing account's password: set EXAUDIT_AUDIT_PASSWORD "
            "or pass --audit-password-file (never on the command line)"
        )
    if not args.audit_user and args.auth not in ("kerberos", "certificate"):
        raise UsageError("--audit-user (or EXAUDIT_AUDIT_USER) is required with this --auth")
    if args.auth == "certificate" and (args.client_cert is None or args.client_key is None or args.scheme != "https"):
        raise UsageError("--auth certificate needs --scheme https, --client-cert and --client-key (PEM files)")
    if args.auth == "basic" and args.scheme == "http":
        raise UsageError(
            "--auth basic over plain http would send the passwords in clear text (Basic over http is never "
            "allowed): use --scheme https, or --auth kerberos/ntlm, which encrypt the session over http"
        )
    port = args.port or (443 if args.scheme == "https" else 80)
    return TargetOptions(
        server=args.server,
        port=port,
        path=args.path,
        scheme=args.scheme,
        auth=args.auth,
        ca_bundle=args.ca_bundle,
        insecure=args.insecure,
        ews_url=args.ews_url,
        audit_username=args.audit_user or "",
        audit_password=audit_password,
        service_username=args.service_user or "",
        service_password=service_password,
        timeout_seconds=args.timeout,
        concurrency=args.concurrency,
        deadline_seconds=args.deadline,
        probe_operation=_probe_operation(args.probe),
        sample_seed=args.sample_seed,
        client_cert=args.client_cert,
        client_key=args.client_key,
        max_reply_mib=args.max_reply_mib,
        max_ews_reply_mib=args.max_ews_reply_mib,
        psrp_pools=args.psrp_pools,
        spn_host=args.spn_host,
        service_keytab=os.environ.get("EXAUDIT_SERVICE_KEYTAB") or None,
    )


def _is_exchange_online(target: object) -> bool:
    from audit.target.exo import ExchangeOnline

    return isinstance(target, ExchangeOnline)


def _target(args: argparse.Namespace, policies: Sequence[LoadedPolicy], stderr: TextIO) -> Any:
    """The platform follows from the policies' principal: an app means Exchange Online (one platform per run)."""
    apps = [p for p in policies if p.spec.principal.app is not None]
    if apps and len(apps) != len(policies):
        raise UsageError(
            "these policies mix app principals (Exchange Online) and service accounts (on premises): audit each "
            "platform in its own run"
        )
    if not apps:
        return _target_options(args, stderr)
    target = _exo_target(args, stderr)
    if target.prober is None and any(p.spec.probes is not None for p in policies):
        # As on premises (audit.preflight): every secret the run needs is checked before its first connection.
        raise UsageError(
            "the probes run as the integration's own app: give --probe-client-id (or EXAUDIT_PROBE_CLIENT_ID) and "
            "its secret in EXAUDIT_PROBE_CLIENT_SECRET or --probe-client-secret-file (or --probe-client-cert and "
            "--probe-client-key)"
        )
    return target


def _target_label(args: argparse.Namespace, snapshot: Snapshot) -> str:
    if snapshot.target.platform == "exchange-online" and snapshot.target.endpoints:
        return f"Exchange Online tenant {args.tenant} ({snapshot.target.psrp_endpoint})"
    return f"{args.scheme}://{args.server}{args.path}"


def _exo_credential(
    client_id: str | None, env_name: str, file: Path | None, cert: Path | None, key: Path | None, what: str
) -> Any:
    from audit.target.tokens import AppCredential, certificate_credential

    if not client_id:
        return None
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise UsageError(f"the {what}'s certificate needs both the PEM certificate and its PEM private key")
        return certificate_credential(client_id, cert, key)
    secret = _secret(env_name, file, what)
    source = f"the client secret from {file}" if file is not None else f"the client secret from {env_name}"
    return AppCredential(client_id, secret=secret, source=source) if secret else AppCredential(client_id)


def _exo_target(args: argparse.Namespace, stderr: TextIO) -> Any:
    """Exchange Online options: tenant, both apps' credentials (environment or files), base URLs, shared knobs."""
    from audit.target import exo
    from audit.target.tokens import EXCHANGE_RESOURCE, GRAPH_RESOURCE

    for flag, env in (
        ("--client-secret", "EXAUDIT_CLIENT_SECRET"),
        ("--probe-client-secret", "EXAUDIT_PROBE_CLIENT_SECRET"),
    ):
        if getattr(args, flag.lstrip("-").replace("-", "_"), None) is not None:
            raise UsageError(
                f"{flag} is refused: a secret on the command line is visible to every local user and in shell "
                f"history; set {env} or pass {flag}-file"
            )
    if not args.tenant:
        raise UsageError("an app principal (Exchange Online) needs --tenant (or EXAUDIT_TENANT)")
    if args.insecure:
        stderr.write("WARNING: --insecure: TLS certificates are NOT verified; tokens can be stolen on the path\n")
    auditor = _exo_credential(
        args.client_id,
        "EXAUDIT_CLIENT_SECRET",
        args.client_secret_file,
        args.client_cert,
        args.client_key,
        "auditing app",
    )
    if auditor is None:
        raise UsageError("--client-id (or EXAUDIT_CLIENT_ID) is required: the auditing app's application id")
    prober = _exo_credential(
        args.probe_client_id,
        "EXAUDIT_PROBE_CLIENT_SECRET",
        args.probe_client_secret_file,
        args.probe_client_cert,
        args.probe_client_key,
        "integration app",
    )
    adminapi = args.adminapi_url or exo.DEFAULT_ADMINAPI
    graph = args.graph_url or exo.DEFAULT_GRAPH
    target = exo.ExchangeOnline(
        tenant=args.tenant,
        auditor=auditor,
        prober=prober if prober is not None and prober.secrets() else None,
        authority_url=args.authority_url or exo.DEFAULT_AUTHORITY,
        adminapi_url=adminapi,
        graph_url=graph,
        exchange_resource=exo.resource_for(adminapi, EXCHANGE_RESOURCE),
        graph_resource=exo.resource_for(graph, GRAPH_RESOURCE),
        ca_bundle=args.ca_bundle,
        insecure=args.insecure,
        timeout_seconds=args.timeout,
        concurrency=args.concurrency,
        deadline_seconds=args.deadline,
        probe_operation=_probe_operation(args.probe),
        sample_seed=args.sample_seed,
    )
    target.validate()
    return target


def _preflight(target: Any, *, probes: bool) -> None:
    """Everything the run needs, checked before its first connection (see audit.preflight)."""
    from audit.preflight import refuse_unexpanded, resolve_hosts, url_host

    refuse_unexpanded(
        [
            ("--server (EXAUDIT_SERVER)", target.server),
            ("--ews-url (EXAUDIT_EWS_URL)", target.ews_url),
            ("--audit-user (EXAUDIT_AUDIT_USER)", target.audit_username),
            ("--service-user (EXAUDIT_SERVICE_USER)", target.service_username),
            ("--spn-host (EXAUDIT_SPN_HOST)", target.spn_host),
            ("the auditing account's password (EXAUDIT_AUDIT_PASSWORD or its file)", target.audit_password),
            ("the service account's password (EXAUDIT_SERVICE_PASSWORD or its file)", target.service_password),
            ("EXAUDIT_SERVICE_KEYTAB", target.service_keytab),
            ("KRB5_CLIENT_KTNAME", os.environ.get("KRB5_CLIENT_KTNAME")),
        ]
    )
    if target.auth == "kerberos":
        from audit import kerberos

        kerberos.require_extra()
        kerberos.check_auditor(target.audit_password is not None)
        if probes:
            if target.service_keytab:
                kerberos.check_keytab("EXAUDIT_SERVICE_KEYTAB", target.service_keytab)
            elif target.service_password is None:
                raise UsageError(
                    "the EWS probes log on as the service account with its own credentials, never the runner's "
                    "ticket: set EXAUDIT_SERVICE_KEYTAB (its keytab) or EXAUDIT_SERVICE_PASSWORD "
                    "(or --service-password-file)"
                )
    elif probes and target.service_password is None:
        raise UsageError(
            "the EWS probes need the service account's password: set EXAUDIT_SERVICE_PASSWORD "
            "or pass --service-password-file (never on the command line)"
        )
    resolve_hosts([("--server", target.server), ("--ews-url", url_host(target.ews_url))])


def _probe_operation(flag: str | None) -> str | None:
    return {None: None, "calendar-read": "calendarRead", "calendar-write": "calendarWrite"}[flag]


def _progress(args: argparse.Namespace, stderr: TextIO) -> Any:
    if getattr(args, "quiet", False):
        return None
    from audit.console import make_progress

    return make_progress(stderr)


# --- commands ------------------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit.evaluate.checks import CHECKS
    from audit.policy.lint import Level, lint

    policies = _load_policies(args.policies)
    errors = 0
    for p in policies:
        problems = lint(p, CHECKS.keys())  # semantic rules: file:line:column, errors fail, warnings inform
        for problem in problems:
            stderr.write(f"exaudit: {_safe(problem)}\n")
        failed = sum(1 for problem in problems if problem.level is Level.ERROR)
        errors += failed
        if not failed:
            stdout.write(f"{_safe(p.path)}: ok ({_safe(p.spec.metadata.name)})\n")
    return ExitCode.USAGE if errors else ExitCode.COMPLIANT


def _cmd_migrate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit.evaluate.migrate import AppIdentity, migrate

    if not args.app_id or not args.service_principal_id:
        raise UsageError(
            "exaudit migrate needs --app-id and --service-principal-id (Entra admin center, Enterprise applications, "
            "the integration's app: Application ID and Object ID)"
        )
    (policy,) = _load_policies([args.policy])
    app = AppIdentity(args.app_id, args.service_principal_id, args.display_name or policy.spec.metadata.name)
    result = migrate(policy, app, permission=args.permission, keep_ews=args.ews)
    if args.out:
        _write(args.out, result.policy_yaml, stdout)
        stdout.write(result.powershell)
        stderr.write(f"policy written: {args.out}; the PowerShell above is printed only, never run\n")
    else:
        # One YAML document on stdout: the policy, then the script as comments, so `> file.yaml` stays valid.
        script = "".join(f"# {line}\n" if line else "#\n" for line in result.powershell.splitlines())
        stdout.write(result.policy_yaml + "\n# PowerShell that performs the move (printed, never run):\n" + script)
    return ExitCode.COMPLIANT


def _cmd_schema(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    import json

    from audit.policy import policy_json_schema

    text = json.dumps(policy_json_schema(), indent=2, sort_keys=False) + "\n"
    _write(args.out if args.out else "-", text, stdout, _file_mode(args))
    return ExitCode.COMPLIANT


def _cmd_evaluate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    import gc

    from audit import snapshot as snap
    from audit.evaluate import evaluate_all

    _check_fail_on(args)
    now = _now(args.now)
    policies = _load_policies(args.policies)
    snapshot, sha = snap.load(args.snapshot)
    # The snapshot's million records outlive the command and hold no cycles: keep the cycle collector from walking
    # them on every collection while evaluating (a sixth of the CPU time of evaluating 100,000 recipients).
    gc.freeze()
    try:
        findings = evaluate_all(policies, snapshot, now)
        result = _result(findings, policies, f"snapshot {args.snapshot}", snapshot, sha, now)
        result = _with_drift(result, args, policies, snapshot, now, stderr)
        write_reports(result, args, stdout)
    finally:
        gc.unfreeze()
    _summary(result, args, stderr)
    _collection_problems(snapshot, stderr)
    return _gate(result, args)


def _cmd_plan(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import snapshot as snap
    from audit.evaluate import remediation_plan

    now = datetime.now(UTC)
    policies = _load_policies(args.policies)
    snapshot, _sha = snap.load(args.snapshot)
    for policy in policies:
        stdout.write(remediation_plan(policy, snapshot, now))
    return ExitCode.COMPLIANT


def _cmd_export(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import snapshot as snap
    from audit.evaluate.export import export_policy

    if args.app_id and not re.fullmatch(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", args.app_id):
        raise UsageError("--app-id takes the app's Application (client) ID, a GUID")
    if args.snapshot is not None:
        snapshot, _sha = snap.load(args.snapshot)
    else:
        from audit import run as live

        if args.tenant and not args.app_id:
            # ApplicationImpersonation is retired in Exchange Online: there, the access to mirror is an app's.
            raise UsageError("--tenant reads Exchange Online, where access is held by an app: give --app-id APPID")
        if args.tenant:
            export_target = _exo_target(args, stderr)
        elif args.app_id:
            raise UsageError("--app-id exports from Exchange Online: give --tenant (and its options) or --snapshot")
        else:
            export_target = _target_options(args, stderr)
            _preflight(export_target, probes=False)
        who = args.app_id or args.service_account
        snapshot = live.read_only_snapshot(who, export_target, progress=_progress(args, stderr))
    if args.app_id:
        from audit.evaluate.export_exo import require_pointer

        require_pointer(snapshot, args.app_id)
    failed = [c for c in snapshot.calls if not c.ok]
    if failed:
        # A policy written from partial state would encode a guess as the intended state.
        _collection_problems(snapshot, stderr)
        raise CollectionError(f"{len(failed)} cmdlet call(s) failed; no policy was exported")
    if args.app_id:
        from audit.evaluate.export_exo import export_app_policy

        text = export_app_policy(snapshot, args.app_id, name=args.name)
    else:
        text = export_policy(snapshot, args.service_account, name=args.name)
    _write(args.out if args.out else "-", text, stdout, _file_mode(args))
    if args.out and not args.quiet:
        stderr.write(
            f"policy written: {_safe(args.out)} (review the lines marked REVIEW, then `exaudit validate` it)\n"
        )
    return ExitCode.COMPLIANT


def _cmd_collect(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import run as live

    if args.out is None and args.bundle is None:
        raise UsageError("give --out FILE (the snapshot) or --bundle DIR (a signed evidence bundle)")
    _check_snapshot_name(args.out)
    policies = _load_policies(args.policies)
    target = _target(args, policies, stderr)
    if not _is_exchange_online(target):
        _preflight(target, probes=True)
    sign_key = _bundle_key(args)
    snapshot = live.collect(policies, target, progress=_progress(args, stderr))
    for out in (args.out, args.bundle / "snapshot.json" if args.bundle else None):
        if out is not None:
            sha = _write_snapshot(snapshot, out, _file_mode(args))
            if not args.quiet:
                stderr.write(f"snapshot written: {_safe(out)} (checksummed, sha256 {sha})\n")
    _sign_bundle(args, sign_key, stderr)
    _collection_problems(snapshot, stderr)
    # A probe that observed nothing (every probe refused with 401, say) leaves EXA050/EXA051 undecided just like a
    # failed cmdlet leaves its checks: collection did not succeed, even though the probe run itself completed.
    return decide_exit_code(None, incomplete=_incomplete(snapshot))


def _cmd_run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import run as live
    from audit import snapshot as snap

    now = datetime.now(UTC)
    policies = _load_policies(args.policies)
    target = _target(args, policies, stderr)
    if not _is_exchange_online(target):
        _preflight(target, probes=True)
    _check_fail_on(args)
    _check_snapshot_name(args.snapshot_out)
    sign_key = _bundle_key(args)
    if args.bundle is not None:
        args.snapshot_out = args.snapshot_out or args.bundle / "snapshot.json"
    snapshot, findings = live.run(policies, target, now, progress=_progress(args, stderr))
    sha = (
        _write_snapshot(snapshot, args.snapshot_out, _file_mode(args))
        if args.snapshot_out
        else snap.digest(snapshot)  # streamed; the same hash `collect` would write
    )
    result = _result(findings, policies, _target_label(args, snapshot), snapshot, sha, now)
    result = _with_drift(result, args, policies, snapshot, now, stderr)
    write_reports(result, args, stdout)
    if args.bundle is not None:
        bundle_args = argparse.Namespace(**{**vars(args), "report_dir": args.bundle, **dict.fromkeys(REPORT_FLAGS)})
        bundle_args.html_jenkins = None
        write_reports(result, bundle_args, stdout)
        if args.snapshot_out != args.bundle / "snapshot.json":
            _write_snapshot(snapshot, args.bundle / "snapshot.json")
        _sign_bundle(args, sign_key, stderr)
    _summary(result, args, stderr)
    _collection_problems(snapshot, stderr)
    return _gate(result, args)


def _cmd_demo(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import demo as live

    now = datetime.now(UTC)
    out: Path = args.out
    _check_scenario(args.scenario)
    if not args.quiet:
        scenario = _safe(args.scenario)
        stderr.write(f"exaudit demo: starting the embedded Exchange lab (scenario {scenario}) on 127.0.0.1\n")
        if not live.is_exchange_online_scenario(args.scenario):
            stderr.write(
                "exaudit demo: no Kerberos realm, so the lab accepts NTLM with WinRM message encryption (as an "
                "Exchange server with NTLM enabled on its virtual directories; a default one accepts only Kerberos "
                "on /PowerShell)\n"
            )
    demo = live.demo(args.scenario, mailboxes=args.mailboxes, progress=_progress(args, stderr))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create {out}: {exc.strerror or exc}") from exc
    sha = _write_snapshot(demo.snapshot, out / "snapshot.json", _file_mode(args))
    result = _result(demo.findings, demo.policies, demo.lab_description, demo.snapshot, sha, now)
    args.report_dir = out
    written = write_reports(result, args, stdout)
    _summary(result, args, stderr)
    stdout.write(f"verdict: {result.verdict} (exit code {int(result.exit_code)})\n")
    stdout.write(f"snapshot: {out / 'snapshot.json'}\n")
    for w in written:
        stdout.write(f"{w.fmt}: {w.path}\n")
    return result.exit_code


def _with_drift(
    result: AuditResult,
    args: argparse.Namespace,
    policies: Sequence[LoadedPolicy],
    snapshot: Snapshot,
    now: datetime,
    stderr: TextIO,
) -> AuditResult:
    """The result with its drift since ``--baseline`` (said in one line on stderr), or unchanged without one."""
    if args.baseline is None:
        return result
    from dataclasses import replace

    from audit.baseline import drift_against

    drift = drift_against(args.baseline, result.findings, snapshot, policies, now)
    if not getattr(args, "quiet", False):
        from audit.report.interface import strip_control

        stderr.write(strip_control(drift.summary()) + "\n")
    return replace(result, drift=drift)


def _check_fail_on(args: argparse.Namespace) -> None:
    if args.fail_on == "new" and args.baseline is None:
        raise UsageError("--fail-on new needs --baseline FILE (an earlier report.json or snapshot)")


def _gate(result: AuditResult, args: argparse.Namespace) -> ExitCode:
    from audit.drift import FailOn, gate

    return gate(result.exit_code, result.drift, FailOn(args.fail_on))


def _cmd_diff(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit.baseline import diff, render_text

    policies = _load_policies(args.policy) if args.policy else []
    drift = diff(args.old, args.new, policies, _now(args.now))
    with_findings = bool(drift.changes) or bool(policies) or not drift.evidence
    stdout.write(render_text(drift, with_findings))
    if args.fail_on == "new":
        return ExitCode.NON_COMPLIANT if drift.new else ExitCode.COMPLIANT
    return ExitCode.NON_COMPLIANT if drift.any else ExitCode.COMPLIANT


def _bundle_key(args: argparse.Namespace) -> Any:
    """The signing key for --bundle, loaded (and the folder checked) before anything is collected."""
    if args.bundle is None:
        if args.sign_key is not None:
            raise UsageError("--sign-key signs a bundle: give --bundle DIR as well")
        return None
    from audit import bundle

    bundle.check_empty(args.bundle)
    return bundle.load_private_key(args.sign_key)


def _sign_bundle(args: argparse.Namespace, key: Any, stderr: TextIO) -> None:
    if args.bundle is None:
        return
    from audit import bundle

    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    count = bundle.sign(args.bundle, key, tool_version=__version__, created_at=created)
    if not getattr(args, "quiet", False):
        stderr.write(f"bundle signed: {args.bundle} ({count} file(s); check with `exaudit verify`)\n")


def _cmd_keygen(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import bundle

    private, public = bundle.keygen(args.out)
    stdout.write(f"private key: {private} (mode 0600; keep it secret, or put it in EXAUDIT_SIGN_KEY)\n")
    stdout.write(f"public key: {public} (give it to whoever verifies your bundles)\n")
    return ExitCode.COMPLIANT


def _cmd_verify(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit import bundle

    result = bundle.verify(args.bundle, bundle.load_public_key(args.public_key))
    for line in result.lines():
        (stdout if result.ok else stderr).write(f"{line}\n" if result.ok else f"exaudit: {line}\n")
    return ExitCode.COMPLIANT if result.ok else ExitCode.UNKNOWN_STATE


def _check_scenario(name: str) -> None:
    from audit.lab import server as lab

    names = lab.list_scenarios()
    if name not in names:
        raise UsageError(f"no lab scenario {name!r}; choose one of: {', '.join(names)}")


def _cmd_lab(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit.lab import LabError
    from audit.lab import server as lab

    try:
        return _lab(args, stdout, lab)
    except LabError as exc:
        raise UsageError(str(exc)) from exc


def _lab(args: argparse.Namespace, stdout: TextIO, lab: Any) -> ExitCode:
    if args.lab_command == "scenarios":
        for name in lab.list_scenarios():
            exp = lab.scenario_expectations(name)
            failing = ", ".join(exp["failing"]) or "none"
            stdout.write(f"{name:22} exit {exp['exit_code']}  must not pass: {failing}\n")
        return ExitCode.COMPLIANT
    _check_scenario(args.scenario)
    code = lab.serve(
        scenario=args.scenario,
        mailboxes=args.mailboxes,
        latency_ms=args.latency_ms,
        tls=args.tls,
        port=args.port,
        out=stdout,
    )
    return ExitCode(code)


def _cmd_completion(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> ExitCode:
    from audit.completion import script

    stdout.write(script(args.shell, build_parser()))
    return ExitCode.COMPLIANT


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, TextIO], ExitCode]] = {
    "validate": _cmd_validate,
    "schema": _cmd_schema,
    "evaluate": _cmd_evaluate,
    "plan": _cmd_plan,
    "export": _cmd_export,
    "collect": _cmd_collect,
    "run": _cmd_run,
    "demo": _cmd_demo,
    "lab": _cmd_lab,
    "completion": _cmd_completion,
    "migrate": _cmd_migrate,
    "keygen": _cmd_keygen,
    "diff": _cmd_diff,
    "verify": _cmd_verify,
}


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run exaudit with ``argv``; returns the exit code (tests call this)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    try:
        return int(COMMANDS[args.command](args, out, err))
    except PolicyError as exc:
        err.write(f"exaudit: invalid policy: {_safe(exc)}\n")
        return int(ExitCode.USAGE)
    except UsageError as exc:
        err.write(f"exaudit: {_safe(exc)}\n")
        return int(ExitCode.USAGE)
    except SnapshotError as exc:
        err.write(f"exaudit: unusable snapshot: {_safe(exc)}\n")
        return int(ExitCode.UNKNOWN_STATE)
    except (CollectionError, ProbeError) as exc:
        err.write(f"exaudit: could not collect: {_safe(exc)}\n")
        return int(ExitCode.UNKNOWN_STATE)
    except ReportError as exc:
        err.write(f"exaudit: {_safe(exc)}\n")
        return int(ExitCode.UNKNOWN_STATE)
    except ExauditError as exc:
        err.write(f"exaudit: {_safe(exc)}\n")
        return int(ExitCode.UNKNOWN_STATE)
    except KeyboardInterrupt:
        err.write("exaudit: interrupted; nothing was evaluated\n")
        return int(ExitCode.UNKNOWN_STATE)
    except BrokenPipeError:
        raise  # the reader (head, less) went away: main_entry ends quietly
    except Exception as exc:  # the CLI never shows a raw traceback unless asked
        if args.debug:
            traceback.print_exc(file=err)
        err.write(
            f"exaudit: internal error ({type(exc).__name__}); state unknown. "
            "Rerun with --debug for details and report it.\n"
        )
        return int(ExitCode.UNKNOWN_STATE)


# What a shell reports for a process that SIGPIPE ended (128 + 13): `exaudit ... | head` ends like any Unix tool.
EXIT_BROKEN_PIPE = 141


def main_entry() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()  # a buffered write to a closed pipe fails here, not at interpreter exit
    except BrokenPipeError:
        # Python's advice (docs: signal, "Note on SIGPIPE"): point stdout at devnull so the interpreter's own
        # final flush cannot fail again and print "Exception ignored ... BrokenPipeError".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(code)
