"""The Exchange Online part of a running lab: the apps' credentials, the tenant versions, the three front ends.

The tenant is a value swapped whole under one lock (a write cmdlet, a Graph DELETE). Mailbox access through Graph
is decided from the previous version for ``faults.propagation.seconds`` after a change: "Changes to app
permissions are subject to cache maintenance that varies between 30 minutes and 2 hours" while "the test command
bypasses this cache" (APPRBAC, domain/exo-2026.md section 1.5). A scenario states its pre-change state under
``faults: {propagation: {seconds: N, previous: <exchange_online overlay>}}``.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from audit.lab import LabError
from audit.lab.exo import with_exchange_online
from audit.lab.faults import FaultPlan
from audit.lab.frontends import ExoContext, json_response
from audit.lab.frontends.adminapi import InvokeCommand
from audit.lab.frontends.graph import Graph
from audit.lab.frontends.token import TokenService
from audit.lab.http import Handler, LabRequest, LabResponse, Route
from audit.lab.tenant import Tenant, _merge_exchange_online
from audit.lab.tokens import Certificate, TokenAuthority, make_certificate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExoCredentials:
    """What the lab's apps log in with (secrets hidden from repr; printed only by `exaudit lab serve`)."""

    tenant_id: str
    auditor_client_id: str
    auditor_client_secret: str = dataclasses.field(repr=False)
    auditor_cert_path: Path
    auditor_key_path: Path = dataclasses.field(repr=False)
    integration_client_id: str
    integration_client_secret: str = dataclasses.field(repr=False)
    admin_client_id: str
    admin_client_secret: str = dataclasses.field(repr=False)


def _guard(handler: Handler) -> Handler:
    """Answer an unexpected failure with a JSON 500 (these wires never carry SOAP faults)."""

    def guarded(request: LabRequest) -> LabResponse:
        try:
            return handler(request)
        except Exception:
            log.exception("Exchange Online handler for %s failed", request.path)
            return json_response(500, {"error": {"code": "InternalServerError", "message": "The lab failed."}})

    return guarded


class ExoServer:
    """Credentials, tenant versions and front ends of the Exchange Online mode."""

    def __init__(
        self, tenant: Tenant, faults: FaultPlan, *, base_url: Callable[[], str], sleep: Callable[[float], None]
    ) -> None:
        exo = tenant.exo
        if exo is None:
            raise LabError("not an Exchange Online tenant", tenant.source)
        self.tenant_id = exo.tenant_id
        self._lock = threading.Lock()
        self._current = tenant
        self._previous: Tenant | None = _previous_version(tenant)
        self._changed_at = time.monotonic()
        self._faults = faults
        self.graph: Graph | None = None
        self._tempdir = tempfile.TemporaryDirectory(prefix="exaudit-lab-apps-")
        self._secrets = {app.app_id: app.secret or secrets.token_urlsafe(24) for app in exo.apps}
        self._certificates: dict[str, tuple[Certificate, ...]] = {}
        self._cert_files: dict[str, tuple[Path, Path]] = {}
        for app in exo.apps:
            if app.certificate:
                cert_pem, key_pem = make_certificate(app.display_name)
                cert_path = Path(self._tempdir.name) / f"{app.app_id}.crt.pem"
                key_path = Path(self._tempdir.name) / f"{app.app_id}.key.pem"
                cert_path.write_bytes(cert_pem)
                key_path.write_bytes(key_pem)
                key_path.chmod(0o600)
                self._certificates[app.app_id] = (Certificate(x509.load_pem_x509_certificate(cert_pem)),)
                self._cert_files[app.app_id] = (cert_path, key_path)
        self.ctx = ExoContext(
            tenant=self.current,
            data_tenant=self.data_tenant,
            commit=self.commit,
            authority=TokenAuthority(exo.tenant_id),
            base_url=base_url,
            faults=faults,
            sleep=sleep,
            secrets=self._secrets,
            certificates=self._certificates,
        )

    # -- tenant versions ------------------------------------------------------------------------------------

    def current(self) -> Tenant:
        """The tenant as configured now."""
        with self._lock:
            return self._current

    def data_tenant(self) -> Tenant:
        """What mailbox access is decided from: the previous version while the change propagates."""
        with self._lock:
            if self._previous is not None and time.monotonic() - self._changed_at < self._faults.propagation_seconds:
                return self._previous
            return self._current

    def commit(self, tenant: Tenant) -> None:
        """Make ``tenant`` current; the one it replaces answers mailbox access while the change propagates."""
        with self._lock:
            self._previous, self._current = self._current, tenant
            self._changed_at = time.monotonic()

    # -- wiring -----------------------------------------------------------------------------------------------

    def routes(self) -> dict[str, Route]:
        """The HTTP routes of the three front ends (Bearer tokens are checked by the front ends themselves)."""
        self.graph = Graph(self.ctx)
        graph = _guard(self.graph)
        return {
            "/adminapi": Route(_guard(InvokeCommand(self.ctx)), ()),
            "/v1.0": Route(graph, ()),
            "/beta": Route(graph, ()),
            # Everything else is /{tenant}/...: the token service answers (unknown tenant: 400 AADSTS90002).
            "/": Route(_guard(TokenService(self.ctx)), ()),
        }

    @property
    def credentials(self) -> ExoCredentials:
        """The auditor's, the integration's and the admin app's logins."""
        exo = self.current().exo
        assert exo is not None
        auditor, integration, admin = (exo.app_with_role(r) for r in ("auditor", "integration", "admin"))
        if auditor is None or integration is None or admin is None:
            raise LabError("the tenant names no auditor, integration or admin app", self._current.source)
        cert_path, key_path = self._cert_files.get(auditor.app_id, (Path(), Path()))
        return ExoCredentials(
            tenant_id=exo.tenant_id,
            auditor_client_id=auditor.app_id,
            auditor_client_secret=self._secrets[auditor.app_id],
            auditor_cert_path=cert_path,
            auditor_key_path=key_path,
            integration_client_id=integration.app_id,
            integration_client_secret=self._secrets[integration.app_id],
            admin_client_id=admin.app_id,
            admin_client_secret=self._secrets[admin.app_id],
        )

    def stats(self) -> dict[str, Any]:
        """InvokeCommand calls per cmdlet, Graph requests per route, token requests per path."""
        counts = self.ctx.log.snapshot()
        invoke = counts.get("adminapi", {})
        graph = counts.get("graph", {})
        return {
            "invoke_command": invoke,
            "invoke_command_calls": sum(invoke.values()),
            "graph": graph,
            "graph_requests": sum(graph.values()),
            "token_requests": counts.get("token", {}),
            "graph_max_in_flight_per_batch": self.graph.max_in_flight_per_batch if self.graph is not None else 0,
        }

    def reset(self) -> None:
        """Zero the counters."""
        self.ctx.log.clear()

    def close(self) -> None:
        """Stop the Graph batch workers and remove the certificate files."""
        if self.graph is not None:
            self.graph.close()
        self._tempdir.cleanup()


def _previous_version(tenant: Tenant) -> Tenant | None:
    faults = tenant.meta.get("faults") or {}
    propagation = faults.get("propagation") if isinstance(faults, dict) else None
    overlay = propagation.get("previous") if isinstance(propagation, dict) else None
    if not isinstance(overlay, dict):
        return None
    section = tenant.meta.get("exchange_online") or {}
    return with_exchange_online(tenant, _merge_exchange_online(dict(section), overlay))
