"""One webhook request: to the checked address, within a hard deadline.

The connection goes to ``Target.address`` (the IP that ``safety.check``
approved), never to a fresh lookup of the host name; the name goes in the
``Host`` header, in TLS's SNI and in the certificate check. Redirects are
not followed (a 3xx is a failure: it could point anywhere).

The whole request, from connecting to reading the first bytes of the
answer, is cut at ``timeout`` seconds, however the receiver dribbles its
answer out (a per-read timeout alone would let one byte every few seconds
hold the worker for ever): a timer shuts the socket at the deadline. Only
the first ``RESPONSE_EXCERPT`` bytes of the answer are read.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .models import RESPONSE_EXCERPT
from .safety import Target


@dataclass(frozen=True)
class Outcome:
    """What came back: a status code and the start of the body, or an error."""

    status: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # Certificate and host name checked against the URL's host.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    timeout: float,
) -> Outcome:
    """POST ``body`` to ``target``; never raises for what the network or
    the receiver does (that is the outcome's ``error``)."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, timeout=min(connect_timeout, timeout))
    expired = threading.Event()
    timer = threading.Timer(timeout, _cut, args=(connection, expired))
    timer.daemon = True
    started = time.monotonic()
    status: int | None = None
    text = ""
    error = ""
    timer.start()
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(max(timeout - (time.monotonic() - started), 0.001))
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        try:
            text = response.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            text = ""  # the status is the answer; the body is only shown in the log
        if 300 <= status < 400:
            error = "Redirects are not followed: answer the URL itself with a 2xx."
        elif not 200 <= status < 300:
            error = f"The receiver answered {status} {response.reason}".strip() + "."
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = _describe(exc, expired.is_set() or isinstance(exc, TimeoutError), timeout)
    finally:
        timer.cancel()
        connection.close()
    duration = round((time.monotonic() - started) * 1000)
    return Outcome(status=status, body=text, error=error, duration_ms=duration)


def _describe(exc: Exception, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"No complete answer within {timeout:g} s: timed out."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"The TLS certificate was refused: {exc.verify_message}."
    if isinstance(exc, ConnectionRefusedError):
        return "The connection was refused."
    detail = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {detail}"[:500]
