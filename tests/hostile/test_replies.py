"""audit.replies on a plain requests session against the hostile server: size, time and origin bounds."""

from __future__ import annotations

import time

import pytest
import requests

from audit.replies import MIB, RedirectRefused, ReplyLimits, ReplyRefused, ReplyTooLarge, ReplyTooSlow, guard_session

from .servers import SECRET_TOKEN, Behaviour, HostileServer


def _session(max_bytes: int = MIB, timeout: float = 2.0) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return guard_session(session, ReplyLimits(max_bytes, timeout), "test")


def test_an_endless_body_stops_at_the_size_limit() -> None:
    with HostileServer(Behaviour("endless")) as server, pytest.raises(ReplyTooLarge, match=r"reply exceeded 1 MiB"):
        _session().post(server.url, data=b"x", timeout=5)


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    body = b"<a>" + b"x" * (2 * MIB) + b"</a>"
    with HostileServer(Behaviour("body", body=body)) as server:
        with pytest.raises(ReplyTooLarge, match=r"Content-Length"):
            _session().post(server.url, timeout=5)
        assert len(_session(max_bytes=4 * MIB).post(server.url, timeout=5).content) == len(body)


@pytest.mark.parametrize("kind", ["slow-body", "slow-headers"])
def test_a_server_dripping_a_byte_a_second_is_cut_at_the_deadline(kind: str) -> None:
    with HostileServer(Behaviour(kind)) as server:
        start = time.monotonic()
        with pytest.raises(ReplyTooSlow, match=r"took longer than 2 s"):
            # The per-read timeout (5 s) never trips: a byte arrives every second. Only the deadline ends it.
            _session().post(server.url, timeout=5)
        assert time.monotonic() - start < 4.0


def test_a_redirect_to_another_origin_is_refused_naming_only_the_origin() -> None:
    with HostileServer(Behaviour("redirect")) as server:
        with pytest.raises(RedirectRefused) as caught:
            _session().post(server.url, timeout=5)
        assert f"(http://127.0.0.1:{server.other_port})" in str(caught.value)
        assert SECRET_TOKEN not in str(caught.value)
        assert "PowerShell" not in str(caught.value)


def test_a_document_type_declaration_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'
    with HostileServer(Behaviour("body", body=body)) as server, pytest.raises(ReplyRefused, match="document type"):
        _session().post(server.url, timeout=5)


def test_an_ordinary_reply_is_read_whole() -> None:
    body = b"<ok/>" * 1000
    with HostileServer(Behaviour("body", body=body)) as server:
        response = _session().post(server.url, timeout=5)
    assert response.status_code == 200
    assert response.content == body


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ReplyLimits(0, 1.0)
