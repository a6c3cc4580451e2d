"""`make bench-load`: the whole system under a realistic load, calm and then
through a Redis restart and a worker kill.

It seeds its database (``bench/load_seed.py``: the demo tenants grown to
a working portal), starts a private ``redis-server`` without persistence,
gunicorn, a Celery worker and Celery beat (``bench/load_services.py``), and
plays partners, channel managers and finance with Locust, driven headless
(``bench/load_users.py``):

1. step search: ``--probe`` seconds (BENCH_PROBE, 30) at 10, 20, 40, ...
   users (doubling, then halving the gap between the last level that held
   and the first that did not), to find the most users, and so the highest
   request rate, this machine serves with p95 <= 300 ms and no errors;
2. calm run: that load for ``--duration`` seconds (BENCH_DURATION, 300);
3. faults run: the same load and duration, with Redis killed (SIGKILL) at
   40 % of it and started again ``--outage`` seconds later (empty: it keeps
   nothing on disk), and the Celery worker killed at 60 % and started again
   5 seconds later.

After each run it waits (at most ``--drain`` seconds, BENCH_DRAIN, 360:
longer than the accrual sweep's 5 minutes) for the worker and beat to
finish, then counts the committed changes whose follow-up work never
finished (``bench/load_lost.py``). 503 answers are
counted apart from other errors: a 503 says "try again", which an outage
explains; a 500 does not. Refusals (a decision another person took first)
are correct answers, counted apart too.

Every process it starts is stopped when it ends, fails or is interrupted.
Logs are kept in ``.run/bench-load/``. Its last line is ``RESULT rps=...
p95_ms=... errors=... lost=... fault_rps=... fault_p95_ms=...
fault_errors=... fault_503=...``.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from bench.load_lost import drain, total
from bench.load_seed import PASSWORD, LoadSeeder, TenantLogins, totp_secret
from bench.load_services import BIN, ROOT, Service, Stack, cpu_used, wait_for
from prm.celery import app as celery_app

LOCUSTFILE = ROOT / "bench" / "load_users.py"
WEIGHTS = {"partner": 15, "cm": 3, "finance": 2}  # of every 20 people
RAMP_LIMIT = 300  # seconds for every user to sign in


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


class Command(BaseCommand):
    help = "Load the whole system with Locust, calm and through a Redis and worker outage."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--duration", type=int, default=env_int("BENCH_DURATION", 300))
        parser.add_argument("--probe", type=int, default=env_int("BENCH_PROBE", 30))
        # The accrual sweep (beat, every 5 minutes) is the slowest recovery
        # path counted: a drain shorter than that counts late work as lost.
        parser.add_argument("--drain", type=int, default=env_int("BENCH_DRAIN", 360))
        parser.add_argument(
            "--users",
            type=int,
            default=env_int("BENCH_USERS", 0),
            help="Skip the step search and run with this many users.",
        )
        parser.add_argument("--start-users", type=int, default=10)
        parser.add_argument("--max-users", type=int, default=640)
        parser.add_argument("--p95-ms", type=float, default=300.0)
        parser.add_argument("--outage", type=int, default=10, help="Seconds Redis stays down.")
        parser.add_argument("--rows", type=int, default=env_int("BENCH_ROWS", 30_000))
        parser.add_argument("--partners", type=int, default=200)
        parser.add_argument("--partner-logins", type=int, default=60)
        parser.add_argument("--cms", type=int, default=6)
        parser.add_argument("--finance", type=int, default=3)
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument("--web-threads", type=int, default=4)
        parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0])

    def handle(self, *args: Any, **opts: Any) -> None:
        db_name = connection.settings_dict["NAME"]
        if not db_name.startswith("prm_bench"):
            raise CommandError("Run it on its own database: PRM_DB_NAME=prm_bench_load.")
        self.opts = opts
        self.workdir = Path(settings.BASE_DIR) / ".run" / "bench-load"
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        worlds = self.seed()
        self.collectstatic()
        self.stack = Stack(self.workdir, db_name, opts["web_workers"], opts["web_threads"])
        self.locust: Service | None = None
        # SIGTERM (and SIGHUP) end the command as Ctrl-C does: through the
        # finally below, which stops every process started.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.interrupted)
        try:
            self.stack.start()
            self.log(
                f"system: gunicorn {opts['web_workers']}x{opts['web_threads']} gthread on "
                f"{self.stack.base_url}, worker, beat, redis on port {self.stack.redis_port}; "
                f"logs in {self.workdir}"
            )
            self.write_config(worlds)
            probes: list[dict[str, Any]] = []
            if opts["users"]:
                users = opts["users"]
            else:
                users, probes = self.step_search()
            calm = self.run("calm", users, opts["duration"])
            faults = self.run("faults", users, opts["duration"], faults=True)
        finally:
            if self.locust is not None:
                self.locust.stop(grace=5)
            self.stack.stop()
        self.report(users, probes, calm, faults)

    def interrupted(self, signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    # --- set-up -----------------------------------------------------------------------------

    def seed(self) -> list[TenantLogins]:
        opts = self.opts
        # The demo's services queue tasks on commit: run them here, and
        # their mails nowhere.
        celery_app.conf.task_always_eager = True
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            worlds = LoadSeeder(self.log).seed(
                rows=opts["rows"],
                partners=opts["partners"],
                partner_logins=opts["partner_logins"],
                cms=opts["cms"],
                finance=opts["finance"],
            )
        celery_app.conf.task_always_eager = False
        connection.close()  # the seed's connection is not kept open through the runs
        return worlds

    def collectstatic(self) -> None:
        """Production settings serve the collected, hashed static files."""
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "prm.settings",
                "PRM_DEBUG": "0",
                "PRM_SECRET_KEY": "bench-load-collectstatic-only-not-a-secret-0123456789",
            },
            check=True,
        )

    def write_config(self, worlds: list[TenantLogins]) -> None:
        from prm.tenancy.models import Tenant

        tenants = []
        for world in worlds:
            tenant = Tenant.objects.get(slug=world.slug)
            tenants.append(
                {
                    **world.__dict__,
                    "country": str(tenant.country),
                    "currency": tenant.base_currency,
                }
            )
        staff = [e for w in worlds for e in (*w.cm_logins, *w.finance_logins)]
        self.config = {
            "tenants": tenants,
            "password": PASSWORD,
            "secrets": {email: totp_secret(email) for email in staff},
            "sessions_file": str(self.workdir / "sessions.json"),
            "result_file": str(self.workdir / "result.json"),
            "started_file": str(self.workdir / "started"),
            "think_min": self.opts["think"][0],
            "think_max": self.opts["think"][1],
            "weights": WEIGHTS,
        }
        connection.close()

    # --- runs -------------------------------------------------------------------------------

    def step_search(self) -> tuple[int, list[dict[str, Any]]]:
        """The most users whose probe held the target (p95, no errors)."""
        opts = self.opts
        probes: list[dict[str, Any]] = []

        def holds(users: int) -> bool:
            result = self.run(f"probe-{users}", users, opts["probe"], drain=False)
            result["holds"] = self.holds(result)
            probes.append(result)
            return bool(result["holds"])

        good, bad = 0, 0
        users = opts["start_users"]
        while users <= opts["max_users"]:
            if holds(users):
                good, users = users, users * 2
            else:
                bad = users
                break
        if not good:
            # Not even the first level: go down until one holds.
            users = bad // 2
            while users >= 1 and not holds(users):
                users //= 2
            good = max(users, 1)
        elif bad:
            # Halve the gap twice (to within a quarter of the last step).
            for _ in range(2):
                middle = (good + bad) // 2
                if middle in (good, bad):
                    break
                if holds(middle):
                    good = middle
                else:
                    bad = middle
        self.log(f"step search: {good} users is the most that held p95 <= {opts['p95_ms']:.0f} ms")
        return good, probes

    def holds(self, result: dict[str, Any]) -> bool:
        total = result["total"]
        return total["p95"] <= self.opts["p95_ms"] and total["error"] == 0 and total["503"] == 0

    def run(
        self, label: str, users: int, duration: int, *, faults: bool = False, drain: bool = True
    ) -> dict[str, Any]:
        """One Locust run of ``users`` for ``duration`` measured seconds."""
        self.settle()
        for name in ("started_file", "result_file"):
            Path(self.config[name]).unlink(missing_ok=True)
        config_path = self.workdir / "config.json"
        config_path.write_text(json.dumps({**self.config, "duration": duration}))
        since = datetime.now(UTC)
        self.locust = Service(
            f"locust {label}",
            [
                str(BIN / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                str(max(2, users // 5)),
                "--run-time",
                f"{duration + RAMP_LIMIT + 60}s",
                "--host",
                self.stack.base_url,
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            {**self.stack.env, "BENCH_LOAD_CONFIG": str(config_path)},
            self.workdir / f"locust-{label}.log",
        )
        self.locust.start()
        started_file = Path(self.config["started_file"])

        def started() -> bool:
            self.stack.check_alive()
            if not self.locust or not self.locust.running:
                raise CommandError(f"Locust exited early: see {self.workdir}/locust-{label}.log")
            return started_file.exists() and bool(started_file.read_text())

        wait_for(started, RAMP_LIMIT, f"{users} users to sign in")
        cpu_before, cpu_from = self.stack.cpu_snapshot(), time.monotonic()
        t0 = float(started_file.read_text())
        events: list[tuple[str, float]] = []
        injector = None
        if faults:
            injector = threading.Thread(target=self.inject, args=(t0, duration, events))
            injector.start()
        assert self.locust.process is not None
        self.locust.process.wait(timeout=duration + RAMP_LIMIT + 120)
        self.locust = None
        cpu_after, cpu_for = self.stack.cpu_snapshot(), time.monotonic() - cpu_from
        if injector is not None:
            injector.join()
        result_file = Path(self.config["result_file"])
        if not result_file.exists():
            raise CommandError(f"Locust wrote no result: see {self.workdir}/locust-{label}.log")
        result: dict[str, Any] = json.loads(result_file.read_text())
        if result["failed_logins"]:
            raise CommandError(f"Sign-in failed: {result['failed_logins'][:3]}")
        result.update(label=label, users=users, events=events)
        # Locust's own CPU (it measures itself over the measured window),
        # scaled to this window.
        result["cpu"] = cpu_used(
            cpu_before,
            {**cpu_after, "locust": result["locust_cpu_s"] * cpu_for / result["measured_s"]},
            cpu_for,
        )
        total = result["total"]
        self.log(
            f"{label}: {users} users, {total['rps']:.1f} req/s, p50 {total['p50']:.0f} ms, "
            f"p95 {total['p95']:.0f} ms, p99 {total['p99']:.0f} ms, errors {total['error']}, "
            f"503 {total['503']}, refused {total['refused']} ({result['measured_s']:.0f} s)"
        )
        if drain:
            result["lost"], result["drain_s"] = self.drain(since)
        return result

    def settle(self) -> None:
        """Start each run with the worker's queue empty (a minute at most)."""
        deadline = time.monotonic() + 60
        while self.stack.queued() > 0 and time.monotonic() < deadline:
            time.sleep(1)

    def drain(self, since: datetime) -> tuple[dict[str, int], float]:
        lost, waited = drain(since, self.opts["drain"], self.log, self.stack.queued)
        shown = ", ".join(f"{k} {v}" for k, v in lost.items())
        self.log(f"  after {waited:.0f}s of draining, lost: {shown}")
        connection.close()
        return lost, waited

    def inject(self, t0: float, duration: int, events: list[tuple[str, float]]) -> None:
        """Kill Redis at 40 % of the run and start it again ``--outage`` s
        later; kill the worker at 60 % and start it again 5 s later."""
        outage = max(2, min(self.opts["outage"], duration // 6))
        steps = [
            (0.4 * duration, "redis killed", self.stack.redis.kill),
            (0.4 * duration + outage, "redis started", self.stack.start_redis),
            (0.6 * duration, "worker killed", self.stack.worker.kill),
            (0.6 * duration + min(5, duration // 10), "worker started", self.stack.start_worker),
        ]
        for offset, what, action in sorted(steps, key=lambda s: s[0]):
            time.sleep(max(0.0, t0 + offset - time.time()))
            try:
                action()
            except Exception as exc:  # reported with the run; the load goes on
                what = f"{what}: FAILED: {str(exc).splitlines()[0]}"
            events.append((what, time.time() - t0))

    # --- report -----------------------------------------------------------------------------

    def report(
        self,
        users: int,
        probes: list[dict[str, Any]],
        calm: dict[str, Any],
        faults: dict[str, Any],
    ) -> None:
        w = 28
        lines = ["", "Load benchmark (Locust, headless)"]
        if probes:
            lines.append("step search (p95 target {:.0f} ms):".format(self.opts["p95_ms"]))
            for p in probes:
                t = p["total"]
                lines.append(
                    f"  {p['users']:>4} users {t['rps']:>7.1f} req/s  p95 {t['p95']:>6.0f} ms  "
                    f"errors {t['error']:>4}  {'holds' if p['holds'] else 'does not hold'}"
                )
        for run in (calm, faults):
            lines += [
                "",
                f"{run['label']} run: {users} users for {run['measured_s']:.0f} s",
                f"{'group':<{w}}{'requests':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
                f"{'errors':>8}{'503':>6}{'refused':>9}",
            ]
            for name, g in [*run["groups"].items(), ("all", run["total"])]:
                lines.append(
                    f"{name:<{w}}{g['count']:>9}{g['p50']:>8.0f}{g['p95']:>8.0f}{g['p99']:>8.0f}"
                    f"{g['error']:>8}{g['503']:>6}{g['refused']:>9}"
                )
            lines.append(f"{'requests per second':<{w}}{run['total']['rps']:>9.1f}")
            for kind, count in sorted(run["error_kinds"].items(), key=lambda kv: -kv[1])[:8]:
                first = run["first_error_at"][kind]
                lines.append(f"  error: {kind} x{count} (the first at {first:.1f}s)")
            if run["retried"]:
                lines.append(
                    f"  {run['retried']} GETs sent again on a new connection, as browsers do, "
                    "after the server closed a kept-alive one"
                )
            for what, at in run["events"]:
                lines.append(f"  {at:6.1f}s {what}")
            if run["events"]:
                lines += self.phases(run)
            cpu = run["cpu"]
            # PostgreSQL: at least (a backend that ended took its time with it).
            parts = ("web", "worker", "beat", "redis", "postgres", "locust")
            mine = ", ".join(
                f"{k} {'≥' if k == 'postgres' else ''}{cpu.get(k, 0.0):.2f}" for k in parts
            )
            lines.append(
                f"  CPU, cores busy: {mine}; whole machine {cpu['machine']:.2f} of "
                f"{os.cpu_count()}, other programs {cpu['others']:.2f}"
            )
            if cpu["others"] > 0.25:
                lines.append(
                    "  NOTE: other programs used the machine meanwhile: these figures "
                    "understate what it sustains alone"
                )
            lost = ", ".join(f"{k} {v}" for k, v in run["lost"].items())
            lines.append(f"  lost after {run['drain_s']:.0f} s of draining: {lost}")
        lost_total = total(calm["lost"]) + total(faults["lost"])
        c, f = calm["total"], faults["total"]
        lines.append(
            f"RESULT rps={c['rps']:.1f} p95_ms={c['p95']:.0f} errors={c['error']} "
            f"lost={lost_total} fault_rps={f['rps']:.1f} fault_p95_ms={f['p95']:.0f} "
            f"fault_errors={f['error']} fault_503={f['503']}"
        )
        self.stdout.write("\n".join(lines))

    def phases(self, run: dict[str, Any]) -> list[str]:
        """Requests, errors and 503s before, during and after the faults."""
        marks = [at for _what, at in run["events"]]
        first, last = int(min(marks)), int(max(marks)) + 1
        timeline = run["timeline"]
        out = []
        for name, lo, hi in (
            ("before the faults", 0, first),
            ("faults (kill to restart)", first, last),
            ("after", last, len(timeline)),
        ):
            part = timeline[lo:hi]
            out.append(
                f"  {name:<26}{sum(s[0] for s in part):>7} requests, "
                f"{sum(s[1] for s in part):>5} errors, {sum(s[2] for s in part):>5} 503"
            )
        return out
