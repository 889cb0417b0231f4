"""The lab as one server: the tenant, /PowerShell (WSMan/PSRP), /EWS/Exchange.asmx and /lab/control on 127.0.0.1.

A tenant whose platform is ``exchange-online`` also gets, over HTTPS only (msal refuses http), the token service
(``/{tenant}/v2.0/...``, ``/{tenant}/oauth2/v2.0/token``), InvokeCommand (``/adminapi/beta/{tenant}/InvokeCommand``)
and Microsoft Graph (``/v1.0``, ``/beta``); see ``exo_credentials`` for the apps' secrets and certificate.

``LabServer`` starts in-process on an ephemeral port (tests, ``exaudit demo``); ``serve`` runs it in the
foreground for ``exaudit lab serve`` and prints the endpoints and the credentials it generated.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import signal
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from audit.lab import LabError
from audit.lab.authz import Authorizer
from audit.lab.ews import EwsHandler
from audit.lab.exo_server import ExoCredentials, ExoServer
from audit.lab.faults import FaultPlan
from audit.lab.generate import generate
from audit.lab.http import LabHTTPServer, LabRequest, LabResponse, Route
from audit.lab.kerberos import KerberosAcceptor, default_schemes, describe, keytab_from_environment
from audit.lab.tenant import Tenant, load_tenant
from audit.lab.wsman import WSManEndpoint

log = logging.getLogger(__name__)

DEFAULT_SCENARIO = "compliant"
CONTROL_TOKEN_HEADER = "X-Lab-Token"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True, slots=True)
class LabCredentials:
    """Logins for the lab: the auditor (PSRP) and the service account as the integration holds it (EWS)."""

    auditor_username: str
    auditor_password: str = dataclasses.field(repr=False)
    service_username: str
    service_password: str = dataclasses.field(repr=False)
    domain: str = "CONTOSO"


def scenarios_dir() -> Path:
    """Return the folder of the shipped scenario files."""
    return Path(str(resources.files("audit.lab") / "scenarios"))


def list_scenarios(platform: str | None = None) -> list[str]:
    """Return the names of the shipped scenarios, sorted; only those of ``platform`` when given."""
    names = sorted(p.stem for p in scenarios_dir().glob("*.yaml") if not p.name.startswith("_"))
    if platform is None:
        return names
    return [n for n in names if scenario_platform(n) == platform]


def scenario_platform(name: str) -> str:
    """Return "on-premises" or "exchange-online" for a shipped scenario."""
    return str(load_tenant(scenario_path(name)).meta.get("platform", "on-premises"))


def scenario_path(name: str) -> Path:
    """Return the file of a shipped scenario; raise LabError naming the known ones."""
    path = scenarios_dir() / f"{name}.yaml"
    if name.startswith("_") or not path.is_file():
        raise LabError(f"unknown scenario {name!r} (known: {', '.join(list_scenarios())})")
    return path


def scenario_expectations(name: str) -> dict[str, Any]:
    """Return a scenario's ``expect`` block: ``{"failing": [check ids], "exit_code": n}``."""
    tenant = load_tenant(scenario_path(name))
    expect = tenant.meta.get("expect")
    if not isinstance(expect, dict):
        raise LabError(f"scenario {name!r} has no 'expect' block", str(scenario_path(name)))
    return {"failing": list(expect.get("failing") or []), "exit_code": int(expect.get("exit_code", 0))}


class LabServer:
    """The embedded Exchange lab, started in-process; use as a context manager.

    Args:
        scenario: name of a shipped scenario (ignored when ``tenant_path`` or ``tenant`` is given).
        tenant_path: a tenant/scenario YAML file of one's own.
        tenant: an already built Tenant.
        mailboxes: grow the tenant by this many generated mailboxes.
        group_members: how many of the generated mailboxes join the scope group.
        latency_ms: latency added to every EWS and PowerShell request.
        tls: serve HTTPS with a certificate from a CA generated at start (``ca_cert_path``).
        auth_schemes: authentication schemes offered on /PowerShell (default: as Exchange, see
            audit.lab.kerberos.default_schemes); ``ews_auth_schemes`` the same for /EWS.
        basic: also offer Basic (default: the scenario's ``auth: {basic: true}``; off, as on Exchange).
        port: TCP port (0: ephemeral).
        kerberos_keytab: the keytab of HTTP/<host> (default: $EXAUDIT_LAB_KEYTAB; "" for none); with it
            /PowerShell accepts Kerberos only, as a default Exchange does (audit.lab.kerberos).
    """

    def __init__(
        self,
        scenario: str | None = DEFAULT_SCENARIO,
        *,
        tenant_path: Path | str | None = None,
        tenant: Tenant | None = None,
        mailboxes: int | None = None,
        group_members: int = 0,
        latency_ms: int = 0,
        tls: bool = False,
        auth_schemes: Sequence[str] | None = None,
        ews_auth_schemes: Sequence[str] | None = None,
        basic: bool | None = None,
        port: int = 0,
        kerberos_keytab: Path | str | None = None,
    ) -> None:
        if tenant is None:
            path = Path(tenant_path) if tenant_path is not None else scenario_path(scenario or DEFAULT_SCENARIO)
            tenant = load_tenant(path)
        if mailboxes:
            tenant = generate(tenant, mailboxes, group_members=group_members)
        self.scenario = scenario if tenant_path is None else Path(tenant_path).stem
        self.tenant = tenant.with_generated_passwords()
        self.faults = FaultPlan()
        faults = self.tenant.meta.get("faults")
        if faults:
            self.faults.apply(faults)
        if latency_ms:
            self.faults.set_latency(latency_ms)
        self.authorizer = Authorizer(self.tenant)
        self._http: LabHTTPServer | None = None
        self.ews = EwsHandler(self.tenant, authorizer=self.authorizer, faults=self.faults, sleep=self._sleep)
        self.powershell: WSManEndpoint | None = None
        self._cmdlets: Counter[str] = Counter()
        self._cmdlets_by_account: Counter[str] = Counter()
        self._cmdlet_lock = threading.Lock()
        self._tenant_lock = threading.Lock()
        self._tls = tls
        self._port = port
        keytab = kerberos_keytab if kerberos_keytab is not None else keytab_from_environment()
        self.kerberos = KerberosAcceptor(keytab) if keytab else None  # "" : no realm, whatever the environment
        if basic is None:
            auth = self.tenant.meta.get("auth")
            basic = bool(auth.get("basic", False)) if isinstance(auth, dict) else False
        powershell, ews = default_schemes(kerberos=self.kerberos is not None, basic=basic)
        self._auth_schemes = tuple(auth_schemes) if auth_schemes is not None else powershell
        self._ews_auth_schemes = tuple(ews_auth_schemes) if ews_auth_schemes is not None else ews
        self.control_token = secrets.token_urlsafe(16)
        # Exchange Online: the token service, InvokeCommand and Graph over the same tenant; TLS is required.
        self.exo: ExoServer | None = None
        if self.tenant.exo is not None:
            self._tls = True
            self.exo = ExoServer(self.tenant, self.faults, base_url=lambda: self.base_url, sleep=self._sleep)
        self._stale_passwords = {
            a.username: secrets.token_urlsafe(18) for a in self.tenant.accounts.values() if a.stale_credentials
        }

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> LabServer:
        """Bind 127.0.0.1 and serve in background threads."""
        if self._http is not None:
            return self
        # On premises the lab Administrator's write cmdlets swap the tenant (commit); Exchange Online's go
        # through ExoServer, whose InvokeCommand keeps the versions the propagation fault needs.
        self.powershell = WSManEndpoint(
            self.current_tenant,
            on_cmdlet=self._count_cmdlet,
            commit=self.commit if self.exo is None else None,
        )
        routes: dict[str, Route] = {
            "/EWS": Route(self.ews, self._ews_auth_schemes),
            "/PowerShell": Route(self.powershell, self._auth_schemes, require_encryption=True),
            "/lab/control": Route(self._control, ()),
        }
        if self.exo is not None:
            routes.update(self.exo.routes())
        org = self.tenant.organization
        self._http = LabHTTPServer(
            routes,
            self._accounts,
            self.faults.hook,
            port=self._port,
            tls=self._tls,
            domains=(org.netbios, org.domain),
            kerberos=self.kerberos,
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self.exo is not None:
            self.exo.close()
        if self.powershell is not None:
            self.powershell.close()
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sleep(self, seconds: float) -> None:
        if self._http is not None:
            self._http.sleep(seconds)

    def _count_cmdlet(self, user: str, cmdlet: str, _params: dict[str, str]) -> None:
        with self._cmdlet_lock:
            self._cmdlets[cmdlet] += 1
            self._cmdlets_by_account[user] += 1

    def _accounts(self) -> dict[str, str]:
        # A disabled AD account cannot authenticate: leave it out, so its logins get 401.
        out = {}
        for account in self.tenant.accounts.values():
            user = self.tenant.resolve_recipient(account.username)
            if account.password is not None and not (user is not None and user.account_disabled):
                out[account.username] = account.password
        return out

    # -- where and how to connect ------------------------------------------------------------------------

    @property
    def http(self) -> LabHTTPServer:
        """The running HTTP server."""
        if self._http is None:
            raise LabError("the lab is not running")
        return self._http

    @property
    def base_url(self) -> str:
        """scheme://127.0.0.1:port."""
        return self.http.base_url

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self.http.port

    @property
    def ews_url(self) -> str:
        """The EWS endpoint URL."""
        return f"{self.base_url}/EWS/Exchange.asmx"

    @property
    def psrp_url(self) -> str:
        """The remote PowerShell endpoint URL (configuration Microsoft.Exchange)."""
        return f"{self.base_url}/PowerShell"

    @property
    def control_url(self) -> str:
        """The control endpoint URL (send the X-Lab-Token header)."""
        return f"{self.base_url}/lab/control"

    @property
    def auth_description(self) -> str:
        """One line: what /PowerShell and /EWS accept (and why, when no realm is configured)."""
        text = f"PowerShell accepts {describe(self._auth_schemes)}; EWS accepts {describe(self._ews_auth_schemes)}"
        if self.kerberos is None:
            text += (
                " (no Kerberos realm configured: NTLM with WinRM message encryption, as on an Exchange server whose "
                "virtual directories have NTLM enabled; EXAUDIT_LAB_KEYTAB gives the lab Kerberos)"
            )
        return text

    @property
    def ca_cert_path(self) -> Path | None:
        """PEM of the CA that issued the server certificate (TLS only)."""
        return self.http.ca_path

    @property
    def admin_credentials(self) -> tuple[str, str]:
        """The lab Administrator's login (Organization Management, the on-premises write cmdlets) and password."""
        account = self.tenant.account("Administrator")
        if account is None or account.password is None:
            raise LabError("the tenant has no Administrator account", self.tenant.source)
        user = self.tenant.resolve_recipient(account.username)
        return (user.upn if user else account.username), account.password

    @property
    def credentials(self) -> LabCredentials:
        """The auditor's and the service account's logins (the latter as the integration holds them)."""
        auditor = self.tenant.account_with_role("auditor")
        service = self.tenant.account_with_role("service")
        if auditor is None or service is None or auditor.password is None or service.password is None:
            raise LabError("the tenant names no auditor or service account", self.tenant.source)
        auditor_user = self.tenant.resolve_recipient(auditor.username)
        service_user = self.tenant.resolve_recipient(service.username)
        service_password = self._stale_passwords.get(service.username, service.password)
        return LabCredentials(
            auditor_username=auditor_user.upn if auditor_user else auditor.username,
            auditor_password=auditor.password,
            service_username=service_user.upn if service_user else service.username,
            service_password=service_password,
            domain=self.tenant.organization.netbios,
        )

    # -- Exchange Online -------------------------------------------------------------------------------------

    def _exo_server(self) -> ExoServer:
        if self.exo is None:
            raise LabError(f"scenario {self.scenario!r} is not an Exchange Online tenant (platform: exchange-online)")
        self.http  # noqa: B018 - raises LabError when the lab is not running
        return self.exo

    @property
    def tenant_id(self) -> str:
        """The Entra tenant id."""
        return self._exo_server().tenant_id

    @property
    def authority_url(self) -> str:
        """The msal authority: https://127.0.0.1:PORT/<tenant id>."""
        return f"{self.base_url}/{self._exo_server().tenant_id}"

    @property
    def adminapi_url(self) -> str:
        """The Admin API base (the client POSTs {base}/adminapi/beta/{tenant}/InvokeCommand)."""
        self._exo_server()
        return self.base_url

    @property
    def graph_url(self) -> str:
        """The Microsoft Graph base (the client uses {base}/v1.0/...)."""
        self._exo_server()
        return self.base_url

    @property
    def exo_credentials(self) -> ExoCredentials:
        """The apps' client ids, secrets and the auditor's certificate and key files (secrets hidden from repr)."""
        return self._exo_server().credentials

    def current_tenant(self) -> Tenant:
        """The tenant as it is now (after any write through InvokeCommand, Graph or an on-premises write cmdlet)."""
        if self.exo is not None:
            return self.exo.current()
        with self._tenant_lock:
            return self.tenant

    def commit(self, tenant: Tenant) -> None:
        """Make ``tenant`` the lab's tenant: /PowerShell, EWS impersonation decisions and stats follow it."""
        with self._tenant_lock:
            authorizer = Authorizer(tenant)
            self.tenant, self.authorizer = tenant, authorizer
            self.ews.tenant, self.ews.authorizer = tenant, authorizer

    def set_password(self, username: str, password: str) -> None:
        """Change the password the lab accepts for an account (effective on the next authentication)."""
        account = self.tenant.account(username)
        if account is None:
            raise LabError(f"no account {username!r}")
        self.tenant.accounts[account.username.lower()] = dataclasses.replace(account, password=password)
        self._stale_passwords.pop(account.username, None)

    # -- statistics and control --------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return EWS statistics, PowerShell cmdlet counts (when the handler reports them) and calendar counts."""
        with self._cmdlet_lock:
            cmdlets = dict(self._cmdlets)
            by_account = dict(self._cmdlets_by_account)
        return {
            "scenario": self.scenario,
            "mailboxes": sum(1 for _ in self.tenant.mailboxes()),
            "ews": self.ews.stats.to_dict(),
            "cmdlets": cmdlets,
            "cmdlet_calls": sum(cmdlets.values()),
            "cmdlets_by_account": by_account,
            "calendar_items": self.tenant.calendars.counts(),
            "calendar_items_total": self.tenant.calendars.total(),
            "faults": self.faults.to_dict(),
            **(self.exo.stats() if self.exo is not None else {}),
        }

    def reset(self) -> None:
        """Remove faults, zero the statistics, empty the calendars and end every PowerShell session."""
        self.faults.reset()
        if self.powershell is not None:
            # Sessions a faulted run left open would count against the auditing account's PowerShellMaxConcurrency
            # (audit.lab.wsman) in the next test case, as they would until Exchange expires them.
            self.powershell.close()
        self.ews.reset_stats()
        self.tenant.calendars.clear()
        if self.exo is not None:
            self.exo.reset()
        with self._cmdlet_lock:
            self._cmdlets.clear()
            self._cmdlets_by_account.clear()

    def _control(self, request: LabRequest) -> LabResponse:
        """/lab/control: GET .../stats, POST .../faults (JSON fault plan), POST .../reset."""
        token = request.headers.get(CONTROL_TOKEN_HEADER, "")
        if not secrets.compare_digest(token.encode(), self.control_token.encode()):
            return _json(403, {"error": f"missing or wrong {CONTROL_TOKEN_HEADER} header"})
        action = request.path.rstrip("/").rsplit("/", 1)[-1].lower()
        try:
            if action in ("stats", "control") and request.method == "GET":
                return _json(200, self.stats())
            if request.method != "POST":
                return _json(405, {"error": "use GET .../stats or POST .../faults, .../reset"})
            if action == "reset":
                self.reset()
                return _json(200, {"ok": True})
            if action == "faults":
                try:
                    spec = json.loads(request.body or b"{}")
                except ValueError as exc:
                    return _json(400, {"error": f"invalid JSON: {exc}"})
                self.faults.apply(spec)
                return _json(200, self.faults.to_dict())
        except LabError as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"unknown control action {action!r}"})


def _json(status: int, payload: Any) -> LabResponse:
    return LabResponse(status, json.dumps(payload, sort_keys=True).encode(), "application/json")


def serve(
    scenario: str,
    mailboxes: int | None,
    latency_ms: int,
    tls: bool,
    port: int,
    out: TextIO,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run the lab in the foreground until Ctrl-C (or ``stop`` is set); print endpoints and credentials; return 0."""
    stop = stop or threading.Event()
    with LabServer(scenario, mailboxes=mailboxes, latency_ms=latency_ms, tls=tls, port=port) as lab:
        if lab.exo is not None:
            return _serve_exo(lab, out, stop)
        creds = lab.credentials
        lines = [
            f"exaudit lab: scenario {lab.scenario!r}, {lab.stats()['mailboxes']} mailboxes, on 127.0.0.1 only",
            f"  PowerShell : {lab.psrp_url}  (configuration Microsoft.Exchange)",
            f"  EWS        : {lab.ews_url}",
            f"  auth       : {lab.auth_description}",
            f"  control    : {lab.control_url}  (header {CONTROL_TOKEN_HEADER}: {lab.control_token})",
            f"  auditor    : {creds.auditor_username}  password: {creds.auditor_password}",
            f"  service    : {creds.service_username}  password: {creds.service_password}",
            "  admin      : {}  password: {}  (Organization Management: applies `exaudit plan`)".format(
                *lab.admin_credentials
            ),
        ]
        if lab.ca_cert_path is not None:
            lines.append(f"  CA bundle  : {lab.ca_cert_path}")
        # These passwords are generated for this run of a throw-away lab and printed on purpose: the user
        # asked for them (`exaudit lab serve`), like a test fixture's output.
        lines.append("Press Ctrl-C to stop.")
        out.write("\n".join(lines) + "\n")
        out.flush()
        _wait(stop)
        out.write("exaudit lab: stopped\n")
    return 0


def _serve_exo(lab: LabServer, out: TextIO, stop: threading.Event) -> int:
    """Print the Exchange Online endpoints and app credentials, then wait (inside the running lab)."""
    creds = lab.exo_credentials
    # Generated for this run of a throw-away lab and printed on purpose, as `exaudit lab serve` always did.
    lines = [
        f"exaudit lab: scenario {lab.scenario!r} (Exchange Online), {lab.stats()['mailboxes']} mailboxes, 127.0.0.1",
        f"  tenant     : {lab.tenant_id}",
        f"  authority  : {lab.authority_url}  (msal: instance_discovery=False, verify=<CA bundle>)",
        f"  InvokeCmd  : {lab.adminapi_url}/adminapi/beta/{lab.tenant_id}/InvokeCommand",
        f"  Graph      : {lab.graph_url}/v1.0",
        f"  CA bundle  : {lab.ca_cert_path}",
        f"  control    : {lab.control_url}  (header {CONTROL_TOKEN_HEADER}: {lab.control_token})",
        f"  auditor    : client id {creds.auditor_client_id}  secret: {creds.auditor_client_secret}",
        f"               certificate {creds.auditor_cert_path}  key {creds.auditor_key_path}",
        f"  integration: client id {creds.integration_client_id}  secret: {creds.integration_client_secret}",
        f"  lab admin  : client id {creds.admin_client_id}  secret: {creds.admin_client_secret}",
        "Press Ctrl-C to stop.",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()
    _wait(stop)
    out.write("exaudit lab: stopped\n")
    return 0


def _wait(stop: threading.Event) -> None:
    """Block until Ctrl-C, SIGTERM or ``stop``."""
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
