"""The /PowerShell endpoint driven by the real, unmodified pypsrp client over loopback sockets."""

from __future__ import annotations

import base64
import re
import threading
import uuid

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from audit.lab.generate import generate
from audit.lab.http import LabHTTPServer, Route
from audit.lab.wsman import WSManEndpoint

from .conftest import PSLab

EXCHANGE = "Microsoft.Exchange"


def _invoke(pool: RunspacePool, cmdlet: str, **params: object) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in params.items():
        ps.add_parameter(name, value)
    ps.invoke()
    return ps


@pytest.mark.parametrize(
    ("auth", "encryption"),
    [("basic", "never"), ("ntlm", "auto"), ("negotiate", "auto"), ("ntlm", "never")],
)
def test_pool_opens_and_runs_a_cmdlet(lab: PSLab, auth: str, encryption: str) -> None:
    with RunspacePool(lab.wsman(auth=auth, encryption=encryption), configuration_name=EXCHANGE) as pool:
        assert pool.state == 2  # Opened
        ps = _invoke(pool, "Get-ManagementRoleAssignment", Role="ApplicationImpersonation")
        assert ps.state == PSInvocationState.COMPLETED
        assert not ps.had_errors
        assert {o.adapted_properties["Name"] for o in ps.output} >= {
            "ApplicationImpersonation-Organization Management-Delegating",
            "ApplicationImpersonation-CallPro Calendar Access",
        }
    assert lab.endpoint.shell_count() == 0
    if encryption == "auto":
        # Every envelope after the handshake crossed the wire encrypted; the handler saw plaintext.
        assert all(req.startswith(b"<") for req, _ in lab.exchanges)


def test_https_with_the_generated_ca_and_refused_without(tls_lab: PSLab) -> None:
    assert tls_lab.server.ca_path is not None
    ca = str(tls_lab.server.ca_path)
    for auth in ("basic", "ntlm"):
        wsman = tls_lab.wsman(auth=auth, ssl=True, encryption="auto", cert_validation=ca)
        with RunspacePool(wsman, configuration_name=EXCHANGE) as pool:
            ps = _invoke(pool, "Get-OrganizationConfig")
            assert ps.output[0].adapted_properties["Name"] == "Contoso"
    with pytest.raises(requests.exceptions.SSLError):
        RunspacePool(tls_lab.wsman(ssl=True, encryption="auto"), configuration_name=EXCHANGE).open()


def test_wrong_password_is_authentication_error(lab: PSLab) -> None:
    for auth in ("basic", "ntlm", "negotiate"):
        wsman = lab.wsman(auth=auth, password="not-the-password")
        with pytest.raises(AuthenticationError):
            RunspacePool(wsman, configuration_name=EXCHANGE).open()


def test_unknown_configuration_is_winrm_fault(lab: PSLab) -> None:
    with pytest.raises(WSManFaultError) as info:
        RunspacePool(lab.wsman(), configuration_name="Microsoft.PowerShell").open()
    assert info.value.code == 2150858752
    assert "Cannot find the Microsoft.PowerShell session configuration" in str(info.value.reason)


def test_non_terminating_error_and_no_language_mode(lab: PSLab) -> None:
    with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
        ps = _invoke(pool, "Get-Mailbox", Identity="nobody@contoso.com")
        assert ps.state == PSInvocationState.COMPLETED
        assert ps.had_errors is False  # pypsrp 0.9.1: only PipelineState Failed sets it
        [error] = ps.streams.error
        assert str(error) == (
            "The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found on "
            "'dc01.contoso.com'."
        )
        assert error.reason == "ManagementObjectNotFoundException"
        assert error.exception.types[0] == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
        assert "FailureCategory=Cmdlet-ManagementObjectNotFoundException" in error.fq_error

        ps = PowerShell(pool)
        ps.add_script("Get-Mailbox")
        ps.invoke()
        assert ps.state == PSInvocationState.FAILED
        assert ps.had_errors
        assert str(ps.streams.error[0]) == (
            "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
        )
        assert ps.streams.error[0].fq_error == "ScriptsNotAllowed"

        ps = _invoke(pool, "Invoke-Expression", Command="Get-Mailbox")
        assert ps.state == PSInvocationState.FAILED
        assert str(ps.streams.error[0]).startswith(
            "The term 'Invoke-Expression' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program."
        )
        assert ps.streams.error[0].reason == "CommandNotFoundException"

        ps = _invoke(pool, "Get-Mailbox", NoSuchParameter="x")
        assert ps.state == PSInvocationState.FAILED
        assert str(ps.streams.error[0]) == "A parameter cannot be found that matches parameter name 'NoSuchParameter'."


def test_rbac_cmdlets_invisible_without_the_role_group(lab: PSLab) -> None:
    with RunspacePool(lab.wsman(lab.service), configuration_name=EXCHANGE) as pool:
        ps = _invoke(pool, "Get-ManagementRoleAssignment")
        assert ps.state == PSInvocationState.FAILED
        assert str(ps.streams.error[0]).startswith("The term 'Get-ManagementRoleAssignment' is not recognized")
    with RunspacePool(lab.wsman(lab.reader), configuration_name=EXCHANGE) as pool:
        assert _invoke(pool, "Get-ManagementRoleAssignment").state == PSInvocationState.COMPLETED


def test_every_cmdlet_call_is_reported(lab: PSLab) -> None:
    with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
        _invoke(pool, "Get-OrganizationConfig")
        _invoke(pool, "Get-Recipient", ResultSize="Unlimited")
        _invoke(pool, "Get-Nothing")
    assert [(u, c) for u, c, _ in lab.calls] == [
        (lab.reader, "Get-OrganizationConfig"),
        (lab.reader, "Get-Recipient"),
        (lab.reader, "Get-Nothing"),
    ]
    assert lab.calls[1][2] == {"ResultSize": "Unlimited"}


def test_large_result_small_envelope_and_default_result_size(lab: PSLab) -> None:
    big = generate(lab.tenant, 1005).with_generated_passwords()
    accounts = {a.username: a.password or "" for a in big.accounts.values()}
    endpoint = WSManEndpoint(big)
    with LabHTTPServer({"/PowerShell": Route(endpoint, ("Basic",))}, lambda: accounts) as srv:
        reader = big.account_with_role("auditor")
        assert reader is not None
        # A 4 KiB client envelope forces CreatePipeline through Command + Send and many small Receives.
        wsman = WSMan(
            "127.0.0.1",
            port=srv.port,
            path="PowerShell",
            ssl=False,
            auth="basic",
            encryption="never",
            username=reader.username,
            password=reader.password,
            max_envelope_size=4096,
        )
        with RunspacePool(wsman, configuration_name=EXCHANGE) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-Recipient").add_parameter("Filter", "RecipientTypeDetails -eq 'UserMailbox'")
            ps.add_parameter("ResultSize", 60)
            ps.invoke()
            assert ps.state == PSInvocationState.COMPLETED
            assert len(ps.output) == 60
            assert {o.adapted_properties["RecipientTypeDetails"] for o in ps.output} == {"UserMailbox"}
        wsman = WSMan(
            "127.0.0.1",
            port=srv.port,
            path="PowerShell",
            ssl=False,
            auth="basic",
            encryption="never",
            username=reader.username,
            password=reader.password,
        )
        with RunspacePool(wsman, configuration_name=EXCHANGE) as pool:
            ps = _invoke(pool, "Get-Mailbox")
            assert len(ps.output) == 1000
            [warning] = ps.streams.warning
            assert warning.message.startswith("By default, only the first 1000 items are returned.")
            ps = _invoke(pool, "Get-Mailbox", ResultSize=5)
            assert (len(ps.output), ps.streams.warning) == (5, [])


def test_is_alive_signal_and_delete(lab: PSLab) -> None:
    pool = RunspacePool(lab.wsman(), configuration_name=EXCHANGE)
    pool.open()
    assert pool.is_alive()
    ps = PowerShell(pool)
    ps.add_cmdlet("Get-Recipient").add_parameter("ResultSize", "Unlimited")
    ps.begin_invoke()
    ps.stop()  # Signal powershell/signal/crtl_c
    assert ps.state == PSInvocationState.STOPPED
    ps2 = _invoke(pool, "Get-ExchangeServer")
    assert ps2.output[0].adapted_properties["AdminDisplayVersion"] == "Version 15.2 (Build 1544.4)"
    ps2.close()  # Signal Terminate
    pool.exchange_keys()
    pool.max_runspaces = 3  # Set-MaxRunspaces with pypsrp's "CI" call id
    assert pool.get_available_runspaces() >= 1
    pool.close()  # Delete
    assert not pool.is_alive()
    ops = lab.endpoint.operations
    assert {"Create", "Command", "Send", "Receive", "Signal", "Delete", "Get"} <= set(ops)


def test_shells_belong_to_their_user(lab: PSLab) -> None:
    pool = RunspacePool(lab.wsman(lab.reader), configuration_name=EXCHANGE)
    pool.open()
    try:
        intruder = lab.wsman(lab.service)
        thief = RunspacePool(intruder, configuration_name=EXCHANGE)
        thief.id = pool.id  # same ShellId, other account
        thief.shell.id = pool.shell.id
        thief.shell._selector_set = pool.shell._selector_set
        assert thief.is_alive() is False
        with pytest.raises(WSManFaultError) as info:
            thief.shell.receive("stdout")
        assert info.value.code == 2150858843
        assert pool.is_alive()
    finally:
        pool.close()


def test_concurrent_pools_get_their_own_output(lab: PSLab) -> None:
    errors: list[BaseException] = []

    def worker(cmdlet: str, expected: str) -> None:
        try:
            with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
                for _ in range(5):
                    ps = _invoke(pool, cmdlet)
                    assert ps.output[0].types[0].endswith(expected)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=("Get-OrganizationConfig", "OrganizationConfig")),
        threading.Thread(target=worker, args=("Get-ExchangeServer", "ExchangeServer")),
        threading.Thread(target=worker, args=("Get-ManagementScope", "ManagementScope")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def test_bad_envelopes_get_winrm_faults(lab: PSLab) -> None:
    auth = (lab.reader, lab.password(lab.reader))
    url = lab.server.base_url + "/PowerShell"
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    for body in (b"not xml at all", b"<a/>", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b"\xff\xfe\x00"):
        r = requests.post(url, data=body, auth=auth, headers=headers, timeout=10)
        assert r.status_code == 500
        assert b'Code="2150858767"' in r.content
    receive = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        "<wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>"
        f"<wsa:MessageID>uuid:{uuid.uuid4()}</wsa:MessageID>"
        "<wsman:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.Exchange</wsman:ResourceURI>"
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{uuid.uuid4()}</wsman:Selector></wsman:SelectorSet>'
        "</s:Header><s:Body><rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive></s:Body>"
        "</s:Envelope>"
    )
    r = requests.post(url, data=receive.encode(), auth=auth, headers=headers, timeout=10)
    assert r.status_code == 500
    assert b'Code="2150858843"' in r.content
    # Undecodable PSRP data inside a valid envelope is a fault too, and the server carries on.
    creation = base64.b64encode(b"\x00" * 40).decode()
    shell = (
        f'<rsp:Shell ShellId="{uuid.uuid4()}"><creationXml xmlns="http://schemas.microsoft.com/powershell">'
        f"{creation}</creationXml></rsp:Shell>"
    )
    create = receive.replace(
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
    ).replace("<rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>", shell)
    r = requests.post(url, data=create.encode(), auth=auth, headers=headers, timeout=10)
    assert r.status_code == 500
    assert b"not valid PowerShell remoting data" in r.content or b'Code="2150858767"' in r.content
    assert lab.endpoint.shell_count() == 0
    with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
        assert _invoke(pool, "Get-OrganizationConfig").state == PSInvocationState.COMPLETED


def test_update_max_payload_size_reads_the_winrm_config(lab: PSLab) -> None:
    wsman = lab.wsman()
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024


def test_replies_stay_under_the_client_envelope(lab: PSLab) -> None:
    with RunspacePool(lab.wsman(max_envelope_size=8192), configuration_name=EXCHANGE) as pool:
        output = _invoke(pool, "Get-Recipient", ResultSize="Unlimited").output
    mail_enabled = [r for r in lab.tenant.recipients if r.primary_smtp] + [
        g for g in lab.tenant.groups if g.is_mail_enabled
    ]
    assert len(output) == len(mail_enabled)
    assert len(lab.exchanges) > 5
    for request, response in lab.exchanges:
        limit = int(re.search(rb"MaxEnvelopeSize[^>]*>(\d+)<", request).group(1))  # type: ignore[union-attr]
        assert len(response) <= limit


def test_rbac_cmdlets_take_no_result_size(lab: PSLab) -> None:
    # Exchange's documented syntax of Get-ManagementRoleAssignment has no -ResultSize: it returns every match.
    with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
        ps = _invoke(pool, "Get-ManagementRoleAssignment", ResultSize="Unlimited")
        assert ps.state == PSInvocationState.FAILED
        assert str(ps.streams.error[0]) == "A parameter cannot be found that matches parameter name 'ResultSize'."


@pytest.mark.e2e
def test_ten_thousand_recipients_reach_pypsrp(lab: PSLab) -> None:
    big = generate(lab.tenant, 10_000).with_generated_passwords()
    accounts = {a.username: a.password or "" for a in big.accounts.values()}
    endpoint = WSManEndpoint(big)
    with LabHTTPServer({"/PowerShell": Route(endpoint, ("Basic",))}, lambda: accounts) as srv:
        reader = big.account_with_role("auditor")
        assert reader is not None
        wsman = WSMan(
            "127.0.0.1",
            port=srv.port,
            path="PowerShell",
            ssl=False,
            auth="basic",
            encryption="never",
            username=reader.username,
            password=reader.password,
        )
        with RunspacePool(wsman, configuration_name=EXCHANGE) as pool:
            ps = _invoke(pool, "Get-Recipient", ResultSize="Unlimited")
            assert ps.state == PSInvocationState.COMPLETED
            assert ps.streams.warning == []
            addresses = {o.adapted_properties["PrimarySmtpAddress"] for o in ps.output}
    expected = {r.primary_smtp for r in big.recipients if r.primary_smtp}
    expected |= {g.primary_smtp for g in big.groups if g.is_mail_enabled}
    assert len(ps.output) == len(expected) > 10_000
    assert addresses == expected


def test_two_pipelines_in_one_pool_get_their_own_output(lab: PSLab) -> None:
    with RunspacePool(lab.wsman(), configuration_name=EXCHANGE) as pool:
        first = PowerShell(pool)
        first.add_cmdlet("Get-Recipient").add_parameter("ResultSize", "Unlimited")
        second = PowerShell(pool)
        second.add_cmdlet("Get-ExchangeServer")
        first.begin_invoke()
        second.begin_invoke()
        # Output is queued per pipeline: receiving the second first never hands it the first one's objects.
        second.end_invoke()
        first.end_invoke()
        assert [o.types[0].rsplit(".", 1)[-1] for o in second.output] == ["ExchangeServer"]
        assert {o.types[0].rsplit(".", 1)[-1] for o in first.output} == {"ReducedRecipient"}
        assert len(first.output) > 10
