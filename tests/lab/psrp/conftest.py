"""Fixtures for the /PowerShell tests: the lab's HTTP server and WSMan endpoint on 127.0.0.1, real pypsrp clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pypsrp.wsman import WSMan

from audit.lab.http import LabHTTPServer, Route
from audit.lab.tenant import Tenant, load_tenant
from audit.lab.wsman import WSManEndpoint

BASE_TENANT = Path(__file__).resolve().parents[3] / "audit" / "lab" / "scenarios" / "_base.yaml"
WINRM_DATA = Path(__file__).resolve().parents[2] / "data" / "winrm"
AUTH_SCHEMES = ("Negotiate", "NTLM", "Basic")


@dataclass
class PSLab:
    """A running /PowerShell endpoint with its tenant and what it recorded."""

    server: LabHTTPServer
    endpoint: WSManEndpoint
    tenant: Tenant
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    exchanges: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def password(self, user: str) -> str:
        account = self.tenant.account(user)
        assert account is not None
        assert account.password is not None
        return account.password

    @property
    def reader(self) -> str:
        account = self.tenant.account_with_role("auditor")
        assert account is not None
        return account.username

    @property
    def service(self) -> str:
        account = self.tenant.account_with_role("service")
        assert account is not None
        return account.username

    def wsman(
        self, user: str | None = None, *, auth: str = "basic", password: str | None = None, **kwargs: Any
    ) -> WSMan:
        user = user or self.reader
        options: dict[str, Any] = {"ssl": False, "encryption": "never" if auth == "basic" else "auto", **kwargs}
        return WSMan(
            "127.0.0.1",
            port=self.port,
            path="PowerShell",
            auth=auth,
            username=user,
            password=password or self.password(user),
            **options,
        )


def _accounts(tenant: Tenant) -> Callable[[], dict[str, str]]:
    return lambda: {a.username: a.password for a in tenant.accounts.values() if a.password is not None}


@pytest.fixture(scope="session")
def base_tenant_path() -> Path:
    return BASE_TENANT


@pytest.fixture
def tenant() -> Tenant:
    return load_tenant(BASE_TENANT).with_generated_passwords()


def _start(tenant: Tenant, *, tls: bool = False, record: bool = False) -> PSLab:
    calls: list[tuple[str, str, dict[str, str]]] = []
    endpoint = WSManEndpoint(lambda: tenant, lambda u, c, p: calls.append((u, c, p)))
    exchanges: list[tuple[bytes, bytes]] = []

    def handler(req: Any) -> Any:
        response = endpoint(req)
        if record:
            exchanges.append((req.body, response.body))
        return response

    org = tenant.organization
    server = LabHTTPServer(
        {"/PowerShell": Route(handler, AUTH_SCHEMES)},
        _accounts(tenant),
        tls=tls,
        domains=(org.netbios, org.domain),
    ).start()
    return PSLab(server, endpoint, tenant, calls, exchanges)


@pytest.fixture
def lab(tenant: Tenant) -> Iterator[PSLab]:
    psl = _start(tenant, record=True)
    try:
        yield psl
    finally:
        psl.endpoint.close()
        psl.server.stop()


@pytest.fixture
def tls_lab(tenant: Tenant) -> Iterator[PSLab]:
    psl = _start(tenant, tls=True)
    try:
        yield psl
    finally:
        psl.endpoint.close()
        psl.server.stop()
