"""The system under load for ``make bench-load``: a private ``redis-server``,
gunicorn, a Celery worker and Celery beat, each a real process (the same
commands the Dockerfile and docker-compose.yml run) in a process group of
its own, so that the benchmark can kill one outright (SIGKILL to the whole
group, as a crashed container) and start it again, and stop them all,
whatever happens.

The processes run the shipped settings (``prm.settings``) in production mode
(``PRM_DEBUG=0``) on the benchmark's database and the private Redis (cache
on database 0, broker on 1, as in docker-compose.yml). That Redis keeps
nothing on disk: a restart loses whatever it held, which is what the faults
run is about. Mail goes to Django's dummy backend (no SMTP server here);
sending is still a task that runs and marks the notification mailed.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The Dockerfile's web server: gthread workers (WEB_CONCURRENCY=3) of 4
# threads each, and its other flags.
GUNICORN_FLAGS = [
    "--worker-class",
    "gthread",
    "--timeout",
    "60",
    "--graceful-timeout",
    "30",
    "--keep-alive",
    "5",
    "--max-requests",
    "1000",
    "--max-requests-jitter",
    "100",
    "--worker-tmp-dir",
    "/dev/shm",
    "--no-control-socket",
    "--access-logfile",
    "-",
    "--error-logfile",
    "-",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes() -> Iterator[tuple[int, int, bytes, float]]:
    """(id, process group, title, CPU seconds with its reaped children) of
    every process."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), int(fields[2]), title, sum(int(f) for f in fields[11:15]) / tick


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def cpu_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores kept busy between two ``Stack.cpu_snapshot``s ``seconds``
    apart: by service, by PostgreSQL (the backends alive at the second; one
    that ended meanwhile took its time with it), by the whole machine
    ("machine") and by everything else on it ("others")."""
    used = {"postgres": 0.0}
    for key, value in after.items():
        name = "postgres" if key.startswith("postgres:") else key
        used[name] = used.get(name, 0.0) + (value - before.get(key, 0.0)) / seconds
    machine = (os.cpu_count() or 1) * used.pop("busy") / used.pop("all")
    return {**used, "machine": machine, "others": machine - sum(used.values())}


class Service:
    """One program in its own process group, its output in ``log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.spent = 0.0  # CPU seconds of its processes gone before

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the whole group: no clean-up, no acknowledgement."""
        self._signal_and_wait(signal.SIGKILL, 10)

    def stop(self, grace: float = 10) -> None:
        if not self._signal_and_wait(signal.SIGTERM, grace):
            self._signal_and_wait(signal.SIGKILL, 10)

    def _signal_and_wait(self, sig: int, timeout: float) -> bool:
        if self.process is None:
            return True
        pgid = self.process.pid
        spent = sum(seconds for _pid, group, _title, seconds in processes() if group == pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        # Children that outlived the leader (a pool process) go with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        self.spent += spent
        return True


class Stack:
    """Redis, web, worker and beat for one benchmark, in ``workdir``."""

    def __init__(self, workdir: Path, db_name: str, web_workers: int, web_threads: int) -> None:
        self.workdir = workdir
        self.redis_port = free_port()
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prm.settings",
            "PRM_DEBUG": "0",
            "PRM_SECRET_KEY": "bench-load-only-" + "0123456789abcdef" * 4,
            "PRM_DB_NAME": db_name,
            "PRM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PRM_CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "PRM_CELERY_EAGER": "0",
            "PRM_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "PRM_LOG_LEVEL": "INFO",
            "PRM_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        self.redis = Service(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            self.env,
            workdir / "redis.log",
        )
        self.web = Service(
            "web",
            [
                str(BIN / "gunicorn"),
                "prm.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(web_workers),
                "--threads",
                str(web_threads),
                *GUNICORN_FLAGS,
            ],
            self.env,
            workdir / "web.log",
        )
        self.worker = Service(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "prm",
                "worker",
                "--loglevel",
                "INFO",
                "-n",
                f"bench-load-{os.getpid()}@%h",
            ],
            self.env,
            workdir / "worker.log",
        )
        self.beat = Service(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "prm",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(workdir / "celerybeat-schedule"),
            ],
            self.env,
            workdir / "beat.log",
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def broker(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["PRM_CELERY_BROKER_URL"], socket_timeout=2)

    def services(self) -> list[Service]:
        return [self.redis, self.web, self.worker, self.beat]

    def start(self) -> None:
        self.start_redis()
        self.web.start()
        self.start_worker()
        self.beat.start()

        def web_answers() -> bool:
            self.check_alive()
            try:
                return requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(web_answers, 60, "gunicorn to answer /healthz")

    def start_redis(self) -> None:
        self.redis.start()

        def answers() -> bool:
            self.check_alive()
            try:
                return bool(self.broker.ping())
            except redis.RedisError:
                return False

        wait_for(answers, 10, f"redis-server on port {self.redis_port}")

    def start_worker(self) -> None:
        seen = len(self.worker.output())
        self.worker.start()

        def ready() -> bool:
            self.check_alive()
            return " ready." in self.worker.output()[seen:]

        wait_for(ready, 60, "the Celery worker to start")

    def check_alive(self) -> None:
        for service in self.services():
            if service.process is not None and not service.running:
                tail = "\n".join(service.output().splitlines()[-20:])
                raise RuntimeError(f"{service.name} exited:\n{tail}")

    def queued(self) -> int:
        """Messages waiting in the broker's default queue (-1: unreachable)."""
        try:
            return int(self.broker.llen("celery"))
        except redis.RedisError:
            return -1

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each service (its process groups, with
        the children they reaped, killed ones included), by each PostgreSQL
        backend of this database (named in its process title:
        ``postgres:<pid>``), and by the whole machine ("busy" and "all",
        from /proc/stat). ``cpu_used`` compares two."""
        used = {s.name: s.spent for s in self.services()}
        groups = {s.process.pid: s.name for s in self.services() if s.process is not None}
        marker = f" {self.env['PRM_DB_NAME']} ".encode()
        for pid, pgid, title, seconds in processes():
            if pgid in groups:
                used[groups[pgid]] += seconds
            elif title.startswith(b"postgres: ") and marker in title:
                used[f"postgres:{pid}"] = seconds
        tick = os.sysconf("SC_CLK_TCK")
        times = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        used["all"] = sum(times[:8]) / tick
        used["busy"] = used["all"] - (times[3] + times[4]) / tick  # less idle and iowait
        return used

    def stop(self) -> None:
        """Everything, beat and web first, Redis last; never raises."""
        for service in (self.beat, self.web, self.worker, self.redis):
            with contextlib.suppress(Exception):
                service.stop()
