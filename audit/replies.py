"""Replies from a server are hostile: bounded in size and time while they are read, and never redirected away.

Both clients exaudit drives (pypsrp for PowerShell remoting, exchangelib for EWS) send through a requests
``Session``. :func:`guard_session` wraps every adapter mounted on such a session so that each HTTP exchange

* reads the body as a stream with a byte counter and stops at ``max_bytes`` (a gzip body is counted decoded);
* ends at a wall-clock deadline, headers included: a watchdog shuts the socket down when it passes, so a server
  that drips one byte a second (which no per-read timeout notices) cannot hold a call past its ``--timeout``;
* refuses a redirect to another origin (scheme, host, port): the Location's origin is named, never its path or
  query, which may carry a token.

The errors raised (:class:`ReplyRefused` and its subclasses) derive from no requests exception, so that neither
library retries them or reads them as a transient network failure; the collector and the prober report them as
ERROR with the figure in the message ("reply exceeded 64 MiB").
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import types
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from audit.errors import ExauditError

MIB = 1024 * 1024
_CHUNK = 64 * 1024
# "A SOAP message MUST NOT contain a Document Type Declaration" (SOAP 1.1 section 3, SOAP 1.2 part 1 section 5):
# neither a WSMan nor an EWS reply ever has one, and a DTD is how entity payloads (XXE, billion laughs) arrive.
# Refusing it here keeps them away from every parser behind the clients (expat bounds amplification only after
# 8 MiB of output per parse). An encrypted WinRM body is checked by nobody here: its plain text is never seen.
_DTD = b"<!DOCTYPE"
_ENCRYPTED = ("multipart/encrypted", "multipart/x-multi-encrypted")


class ReplyRefused(ExauditError):
    """A server's reply broke a bound exaudit sets on what it accepts (size, time, origin)."""


class ReplyTooLarge(ReplyRefused):
    """The reply grew past the size limit."""


class ReplyTooSlow(ReplyRefused):
    """The reply was not complete by the deadline."""


class RedirectRefused(ReplyRefused):
    """The server redirected to another origin."""


def mib(n_bytes: int) -> str:
    """``n_bytes`` as MiB for messages ("64 MiB", "0.5 MiB")."""
    return f"{n_bytes / MIB:g} MiB"


def origin(url: str) -> str:
    """``scheme://host:port`` of an URL (default port filled in); no user info, path or query."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme, 0)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """The bounds of one HTTP exchange: the largest body accepted and the wall-clock seconds it may take."""

    max_bytes: int
    timeout: float

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or not self.timeout > 0:
            raise ValueError("reply limits must be positive")


class _Exchange:
    """The socket of the exchange in progress on one thread, so that the watchdog can shut it down."""

    def __init__(self) -> None:
        self.sock: Any = None
        self.expired = False
        self.lock = threading.Lock()

    def kill(self) -> None:
        with self.lock:
            self.expired = True
            sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


class _Watchdog:
    """One thread that ends every exchange still running at its deadline.

    A ``threading.Timer`` per exchange started and stopped a thread for each HTTP request: more CPU than the rest
    of a probe's client side, and a wait for the scheduler on a loaded machine. Here the deadlines sit in a heap
    and a cancelled one only drops its exchange (removed when it reaches the top).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[list[Any]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def watch(self, deadline: float, exchange: _Exchange) -> list[Any]:
        """Kill ``exchange`` at ``deadline`` (time.monotonic) unless :meth:`cancel` comes first."""
        entry = [deadline, next(self._order), exchange]
        with self._cond:
            if self._pid != os.getpid():  # a forked child inherits the heap but not the thread
                self._heap, self._thread, self._pid = [], None, os.getpid()
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="exaudit-reply-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        """The exchange ended in time: forget it."""
        entry[2] = None

    def _run(self) -> None:
        while True:
            with self._cond:
                heap = self._heap
                while heap and heap[0][2] is None:
                    heapq.heappop(heap)
                if not heap:
                    self._cond.wait()
                    continue
                wait = heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                exchange = heapq.heappop(heap)[2]
            if exchange is not None:
                exchange.kill()


_WATCHDOG = _Watchdog()


def _track_connections(adapter: Any) -> None:
    """Make every urllib3 connection the adapter creates report its socket to the exchange on this thread."""
    # Same technique as pypsrp's own _pool_manager (wrapping the pool and connection factories per adapter).
    pool_classes: dict[str, Any] = dict(adapter.poolmanager.pool_classes_by_scheme)
    for scheme, pool_cls in list(pool_classes.items()):
        pool_classes[scheme] = _tracking_pool(pool_cls)
    adapter.poolmanager.pool_classes_by_scheme = pool_classes


def _tracking_pool(pool_cls: Callable[..., Any]) -> Callable[..., Any]:
    def make_pool(*args: Any, **kwargs: Any) -> Any:
        pool = pool_cls(*args, **kwargs)
        connection_cls = pool.ConnectionCls

        def make_connection(*c_args: Any, **c_kwargs: Any) -> Any:
            conn = connection_cls(*c_args, **c_kwargs)
            getresponse = conn.getresponse

            def tracked_getresponse(*r_args: Any, **r_kwargs: Any) -> Any:
                exchange: _Exchange | None = getattr(_current, "exchange", None)
                if exchange is not None:
                    with exchange.lock:
                        exchange.sock = conn.sock
                    if exchange.expired:
                        exchange.kill()
                return getresponse(*r_args, **r_kwargs)

            conn.getresponse = tracked_getresponse
            return conn

        pool.ConnectionCls = make_connection
        return pool

    return make_pool


@contextlib.contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """Bound every exchange this thread makes inside the block by one deadline (a cmdlet call of many receives)."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.deadline = previous


def guard_session(session: requests.Session, limits: ReplyLimits, what: str) -> requests.Session:
    """Bound every exchange of ``session`` (size, time, origin); ``what`` names the protocol in messages."""
    for adapter in list(session.adapters.values()):
        if not getattr(adapter, "_exaudit_guarded", False):
            _guard_adapter(adapter, limits, what)
    return session


def _guard_adapter(adapter: Any, limits: ReplyLimits, what: str) -> None:
    _track_connections(adapter)
    inner_send = adapter.send

    def send(request: Any, stream: bool = False, timeout: Any = None, **kwargs: Any) -> Any:
        start = time.monotonic()
        deadline = start + limits.timeout
        call = getattr(_current, "deadline", None)
        if call is not None:
            deadline = min(deadline, call)
        seconds = max(0.0, deadline - start)
        if seconds <= 0:
            raise ReplyTooSlow(f"{what} call took longer than its deadline; no request sent")
        exchange = _Exchange()
        outer = getattr(_current, "exchange", None)
        _current.exchange = exchange
        watch = _WATCHDOG.watch(start + seconds, exchange)
        try:
            response = inner_send(request, stream=True, timeout=timeout, **kwargs)
            _refuse_other_origin(request.url, response, what)
            _read_body(response, limits.max_bytes, deadline, exchange, what, seconds)
        except ReplyRefused:
            raise
        except Exception:
            if exchange.expired:
                raise ReplyTooSlow(f"{what} reply took longer than {round(seconds, 1):g} s") from None
            raise
        finally:
            _WATCHDOG.cancel(watch)
            _current.exchange = outer
        if exchange.expired:
            raise ReplyTooSlow(f"{what} reply took longer than {round(seconds, 1):g} s")
        return response

    adapter.send = send
    adapter._exaudit_guarded = True


def _refuse_other_origin(request_url: str, response: Any, what: str) -> None:
    if not response.is_redirect:
        return
    target = urllib.parse.urljoin(request_url, response.headers.get("location", ""))
    if origin(target) != origin(request_url):
        response.close()
        raise RedirectRefused(
            f"{what} redirected the request to another origin ({origin(target)}); exaudit follows no redirect "
            "away from the server it was given: point it at the final server"
        )


def _read_body(response: Any, max_bytes: int, deadline: float, exchange: _Exchange, what: str, seconds: float) -> None:
    """Read the whole body with a counter and the deadline; the response then holds it as ``content``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise ReplyTooLarge(f"{what} reply exceeded {mib(max_bytes)} (Content-Length {declared} bytes)")
    sock = _socket_of(response.raw)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.raw.stream(_CHUNK, decode_content=True):
        total += len(chunk)
        if total > max_bytes:
            chunks.clear()
            response.close()
            raise ReplyTooLarge(f"{what} reply exceeded {mib(max_bytes)}")
        if time.monotonic() > deadline or exchange.expired:
            chunks.clear()
            response.close()
            exchange.expired = True
            raise ReplyTooSlow(f"{what} reply took longer than {round(seconds, 1):g} s")
        chunks.append(chunk)
    content = b"".join(chunks)
    chunks.clear()
    if _DTD in content and not response.headers.get("content-type", "").startswith(_ENCRYPTED):
        response.close()
        raise ReplyRefused(
            f"{what} reply holds a document type declaration, which no SOAP message may carry (entity payload)"
        )
    response._content = content
    response._content_consumed = True
    if response.status_code == 401 and sock is not None:
        response.raw._fp = _ConsumedBody(sock)


def _socket_of(raw: Any) -> Any:
    try:
        return raw._fp.fp.raw._sock
    except AttributeError:
        return None


class _ConsumedBody:
    """Stands in for a body already read, so that an auth handler still finds the TLS socket it came on.

    NTLM/Negotiate handlers take the server certificate for channel binding from the 401 challenge's socket through
    ``response.raw._fp.fp.raw._sock`` (pypsrp ``negotiate._get_cbt_data``, requests_ntlm ``_get_server_cert``);
    http.client drops that file once the body has been read to its end. The http.client response itself stays
    closed, so that its connection can carry the next leg of the handshake.
    """

    def __init__(self, sock: Any) -> None:
        self.fp = types.SimpleNamespace(raw=types.SimpleNamespace(_sock=sock))

    def isclosed(self) -> bool:
        """The body was read to its end."""
        return True

    def read(self, *_args: Any) -> bytes:
        """Nothing is left to read."""
        return b""

    def close(self) -> None:
        """Nothing left to close: the connection owns the socket."""


class VerifyingAdapter(requests.adapters.HTTPAdapter):
    """An HTTP adapter that verifies TLS with one given setting, whatever the caller or the environment says.

    ``Session.verify`` is not enough: requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override it for every
    request (psf/requests#3829), so an explicit ``--ca-bundle`` would silently lose to the environment. Used by the
    EWS prober and by the Exchange Online transports alike.
    """

    def __init__(self, verify: bool | str, **kwargs: Any) -> None:
        self._verify = verify
        super().__init__(**kwargs)

    def send(
        self,
        request: Any,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Any:
        """Send with this adapter's TLS verification, whatever the caller passed."""
        return super().send(request, stream=stream, timeout=timeout, verify=self._verify, cert=cert, proxies=proxies)
