"""Real outages for the tests: a private ``redis-server`` to stop and start,
a Celery worker subprocess to kill, a TCP proxy to cut PostgreSQL off.

Nothing here is a mock: each helper runs the real program (or forwards real
bytes) so that the code under test meets the same errors it meets in
production.
"""

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02):
    """Poll ``condition`` until it returns a true value (returned) or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A ``redis-server`` of the test's own, on a free port, without
    persistence: ``stop()`` loses everything in it, as a crash of an
    unpersisted Redis does; ``start()`` brings it back on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, "redis-server exited"
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
            except redis.RedisError:
                return False

        wait_for(answers, 10, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def private_broker(started: bool = True) -> Iterator[RedisServer]:
    """Celery publishes to a ``RedisServer`` of the test's own (started, or
    not yet: the broker is down), not eagerly; all as before afterwards."""
    from prm.celery import app as celery_app

    redis = RedisServer()
    if started:
        redis.start()
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url = redis.url
    celery_app.conf.task_always_eager = False
    forget_broker_connections()
    try:
        yield redis
    finally:
        redis.stop()
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
        forget_broker_connections()


def forget_broker_connections() -> None:
    """Close and forget pooled broker connections (the broker URL changed)."""
    from kombu import pools

    from prm.celery import app as celery_app

    pools.reset()  # closes and forgets kombu's connection and producer pools
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` closes every
    forwarded connection and refuses new ones (a server gone away), ``mend()``
    accepts again. The app connects to PostgreSQL through it."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "TcpProxy":
        self.mend()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def mend(self) -> None:
        with self._lock:
            if self._listener is None:
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self.port))
                listener.listen(16)
                listener.setblocking(False)
                self._listener = listener

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for a, b in self._pairs:
                for sock in (a, b):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._pairs = []

    def stop(self) -> None:
        self._stopped.set()
        self.cut()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _pump(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                listener = self._listener
                pairs = list(self._pairs)
            selector = selectors.DefaultSelector()
            try:
                if listener is not None:
                    selector.register(listener, selectors.EVENT_READ, None)
                for a, b in pairs:
                    selector.register(a, selectors.EVENT_READ, b)
                    selector.register(b, selectors.EVENT_READ, a)
                events = selector.select(timeout=0.05)
            except (OSError, ValueError):
                continue  # a socket was closed by cut() meanwhile
            finally:
                selector.close()
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if key.data is None:
                    self._accept(sock)
                    continue
                try:
                    data = sock.recv(65536)
                    if data:
                        key.data.sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(sock)

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        client.setblocking(True)
        upstream.setblocking(True)
        with self._lock:
            self._pairs.append((client, upstream))

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            for pair in self._pairs:
                if sock in pair:
                    self._pairs.remove(pair)
                    for s in pair:
                        s.close()
                    break


class SmtpServer:
    """A real SMTP server (aiosmtpd) of the test's own, on a fixed port:
    ``stop()`` and the port refuses connections, as a mail server that is
    down does; ``start()`` accepts again. ``messages`` holds every message
    accepted, as (recipients, raw text)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[tuple[list[str], str]] = []
        self._controller: Any = None

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                content = envelope.content
                text = content.decode(errors="replace") if isinstance(content, bytes) else content
                server.messages.append((list(envelope.rcpt_tos), text))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def worker_env(**overrides: str) -> dict[str, str]:
    """The environment of a subprocess that works on the test database and
    the test's Redis (the worker's own, under pytest-xdist)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.test_settings",
        "PRM_DB_NAME": connection.settings_dict["NAME"],
        "PRM_REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "PRM_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PRM_LOG_LEVEL": "INFO",
        # The subprocess is not an xdist worker: it must not move its Redis
        # database again (prm/test_settings.py).
        "PYTEST_XDIST_WORKER": "",
        **overrides,
    }


class Worker:
    """``celery worker`` as a subprocess (solo pool: one task at a time, in
    the process a test kills), consuming ``queues``."""

    def __init__(self, log: Path, name: str, queues: str = "celery", **env: str):
        self.log = log
        self.handle = log.open("wb")
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "prm",
                "worker",
                "--pool=solo",
                "-Q",
                queues,
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=worker_env(**env),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> "Worker":
        def ready() -> bool:
            assert self.process.poll() is None, f"worker exited:\n{self.output()}"
            return " ready." in self.output()

        wait_for(ready, timeout, "the worker to start", interval=0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acknowledgement, an open transaction cut."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.handle.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.handle.close()
