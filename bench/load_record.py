"""What ``make bench-load`` measures, inside the Locust process
(``bench/load_users.py``): only requests made once every user has signed
in, for exactly the configured duration, by group (the request's name).
Each answer is ok, a 503, a refusal (the application turned down a decision
that another user made first, with a 200 page or a 400 form saying so), or
an error (any other status, no answer at all). The start is written to a
file (the benchmark times its faults from it); the summary is JSON."""

import time
from typing import Any

import gevent


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


class Recorder:
    """Every measured answer, by group (the request's name), and a
    per-second timeline; written as JSON when the run stops."""

    def __init__(self, started_file: str, duration: float) -> None:
        self.started_file, self.duration = started_file, duration
        self.started: float | None = None
        self.stopped: float | None = None
        self.ready = 0
        self.failed_logins: list[str] = []
        self.times: dict[str, list[float]] = {}
        self.outcomes: dict[str, dict[str, int]] = {}
        self.error_kinds: dict[str, int] = {}
        self.timeline: dict[int, list[int]] = {}
        self.cpu_started = self.cpu_used = 0.0  # this process's CPU seconds
        self.retried = 0  # GETs sent again on a new connection (BrowserRetry)
        self.first_error_at: dict[str, float] = {}

    def start(self, environment: Any) -> None:
        self.started = time.time()
        self.cpu_started = time.process_time()
        with open(self.started_file, "w") as out:
            out.write(str(self.started))
        gevent.spawn_later(self.duration, self.stop, environment)

    def stop(self, environment: Any) -> None:
        self.stopped = time.time()
        self.cpu_used = time.process_time() - self.cpu_started
        environment.runner.quit()

    def signed_in(self, environment: Any) -> None:
        self.ready += 1
        if self.started is None and self.ready >= environment.parsed_options.num_users:
            self.start(environment)

    def measuring(self) -> bool:
        return self.started is not None and self.stopped is None

    def add(self, name: str, elapsed_ms: float, status: int, failure: str | None) -> None:
        if not self.measuring() or name.startswith("login"):
            return
        if failure is None:
            outcome = "ok"
        elif status == 503:
            outcome = "503"
        elif failure.startswith("refused"):
            outcome = "refused"
        else:
            outcome = "error"
            kind = f"{name}: {failure}"
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
            assert self.started is not None
            self.first_error_at.setdefault(kind, time.time() - self.started)
        self.times.setdefault(name, []).append(elapsed_ms)
        counts = self.outcomes.setdefault(name, {"ok": 0, "503": 0, "refused": 0, "error": 0})
        counts[outcome] += 1
        assert self.started is not None
        second = self.timeline.setdefault(int(time.time() - self.started), [0, 0, 0])
        second[0] += 1
        second[1] += outcome == "error"
        second[2] += outcome == "503"

    def summary(self) -> dict[str, Any]:
        def figures(times: list[float], counts: dict[str, int]) -> dict[str, Any]:
            return {
                "count": len(times),
                "p50": percentile(times, 50),
                "p95": percentile(times, 95),
                "p99": percentile(times, 99),
                "max": max(times, default=0.0),
                **counts,
            }

        groups = {
            name: figures(times, self.outcomes[name]) for name, times in sorted(self.times.items())
        }
        every = [t for times in self.times.values() for t in times]
        totals = {k: sum(c[k] for c in self.outcomes.values()) for k in ("ok", "503", "refused")}
        totals["error"] = sum(c["error"] for c in self.outcomes.values())
        elapsed = (self.stopped or time.time()) - (self.started or time.time())
        return {
            "measured_s": elapsed,
            "total": {**figures(every, totals), "rps": len(every) / elapsed if elapsed else 0},
            "groups": groups,
            "error_kinds": self.error_kinds,
            "first_error_at": self.first_error_at,
            "retried": self.retried,
            "failed_logins": self.failed_logins,
            "locust_cpu_s": self.cpu_used,
            "timeline": [self.timeline.get(s, [0, 0, 0]) for s in range(int(elapsed) + 1)],
        }
