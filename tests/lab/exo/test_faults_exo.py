"""The Exchange Online faults: 429 per route with Retry-After, the 403 body variant, the propagation delay."""

from __future__ import annotations

import io
import threading
import time

import pytest

from audit.lab import LabError
from audit.lab.faults import FaultPlan, route_of
from audit.lab.server import serve


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/adminapi/beta/2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3/InvokeCommand", "adminapi"),
        ("/v1.0/$batch", "graph"),
        ("/beta/users/x/calendar", "graph"),
        ("/2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3/oauth2/v2.0/token", "token"),
        ("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", "token"),
        ("/EWS/Exchange.asmx", "ews"),
        ("/PowerShell", "powershell"),
        ("/lab/control/stats", "control"),
        ("/favicon.ico", "other"),
    ],
)
def test_routes(path: str, route: str) -> None:
    assert route_of(path) == route


def test_429_counts_down_per_route_and_reports_itself() -> None:
    plan = FaultPlan()
    plan.apply({"http_429": [{"route": "graph", "next": 2, "retry_after": 5}, {"route": "token", "always": True}]})
    assert [plan.take_429("graph") for _ in range(3)] == [5, 5, None]
    assert plan.take_429("adminapi") is None
    assert plan.take_429("token") == 1
    assert plan.injected["http_429"] == 3
    assert plan.to_dict()["http_429"]["graph"] == {"next": 0, "always": False, "retry_after": 5}
    plan.reset()
    assert plan.take_429("token") is None


def test_forbidden_body_and_propagation_settings() -> None:
    plan = FaultPlan()
    plan.apply({"forbidden_body": "odata-disabled", "propagation": {"seconds": 90, "previous": {}}})
    assert plan.forbidden_body == "odata-disabled"
    assert plan.propagation_seconds == 90
    with pytest.raises(LabError, match="forbidden_body"):
        plan.apply({"forbidden_body": "something else"})
    with pytest.raises(LabError, match="unknown route"):
        plan.apply({"http_429": [{"route": "nowhere"}]})


def test_serve_prints_the_exchange_online_endpoints_and_credentials() -> None:
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(serve("exo-compliant", None, 0, False, 0, out, stop=stop)))
    thread.start()
    for _ in range(200):
        if "Ctrl-C" in out.getvalue():
            break
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    text = out.getvalue()
    assert result == [0]
    assert "(Exchange Online)" in text
    assert "https://127.0.0.1:" in text  # TLS is forced: msal refuses http
    assert "/adminapi/beta/2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3/InvokeCommand" in text
    assert "client id 0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f" in text
    assert text.rstrip().endswith("exaudit lab: stopped")
