"""For the web outage tests: requests through Django's own WSGI handler, a
server that accepts connections and never answers, a deadline for a test
that would otherwise hang.

``WsgiClient`` makes requests as the production server (gunicorn,
runserver) does. Django's test client is not enough there. It takes ``close_old_connections``
off the request signals, so ``CONN_MAX_AGE`` and ``CONN_HEALTH_CHECKS``
never act between its requests; and it re-raises an exception that Django
answered with its ``handler500`` instead of returning that answer. Here a
request runs through ``WSGIHandler``: ``request_started`` and
``request_finished`` fire, CSRF is enforced, and the response is what a
browser would get.

Only for ``django_db(transaction=True)`` tests: at the start of a request
Django closes a connection left inside a transaction, as the one of a
plain ``django_db`` test is.
"""

import contextlib
import io
import secrets
import signal
import socket
import string
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from prm.tenancy.models import User


@dataclass
class WsgiResponse:
    status_code: int
    headers: dict[str, str]
    text: str

    def __getitem__(self, header: str) -> str:
        return self.headers[header.lower()]


class WsgiClient:
    """Cookies are kept between requests; every POST carries a CSRF token."""

    def __init__(self, host: str):
        self.host = host
        self.handler = WSGIHandler()
        self.cookies: SimpleCookie = SimpleCookie()
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.cookies[settings.CSRF_COOKIE_NAME] = token

    def log_in(self, user: User) -> "WsgiClient":
        """Signed in as ``user``, through a session the test client makes."""
        client = Client(HTTP_HOST=self.host)
        client.force_login(user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        name = settings.SESSION_COOKIE_NAME
        self.cookies[name] = client.cookies[name].value
        return self

    def get(self, path: str) -> WsgiResponse:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> WsgiResponse:
        token = self.cookies[settings.CSRF_COOKIE_NAME].value
        return self.request("POST", path, {"csrfmiddlewaretoken": token, **data})

    def request(self, method: str, path: str, data: dict | None = None) -> WsgiResponse:
        url = urlsplit(path)
        environ: dict = {
            "REQUEST_METHOD": method,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "HTTP_HOST": self.host,
            "SERVER_NAME": self.host,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_COOKIE": "; ".join(f"{k}={m.value}" for k, m in self.cookies.items()),
        }
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            environ.update(
                {
                    "CONTENT_TYPE": "application/x-www-form-urlencoded",
                    "CONTENT_LENGTH": str(len(body)),
                    "wsgi.input": io.BytesIO(body),
                }
            )
        setup_testing_defaults(environ)
        started: dict = {}

        def start_response(status: str, headers: list, exc_info=None) -> None:
            started["status"], started["headers"] = status, headers

        result = self.handler(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()  # request_finished, as the server sends it
        headers: dict[str, str] = {}
        for name, value in started["headers"]:
            if name.lower() == "set-cookie":
                self._keep_cookie(value)
            headers[name.lower()] = value
        return WsgiResponse(int(started["status"].split()[0]), headers, content.decode())

    def _keep_cookie(self, header: str) -> None:
        cookie: SimpleCookie = SimpleCookie(header)
        for name, morsel in cookie.items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never
    answers: a server that hangs, or a host whose replies are lost."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


class Hung(BaseException):
    """Past a test's deadline. A BaseException: neither Django nor a client
    library's ``except Exception`` turns it into something else."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with ``Hung`` if the block takes longer than ``seconds``
    (SIGALRM interrupts a blocking socket call): a missing timeout fails the
    test instead of hanging the suite."""

    def expire(signum: int, frame: object) -> None:
        raise Hung(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
