"""Log lines that say whose work they belong to.

Each request (``prm.request``) and each Celery task (``prm.task``) writes one
line when it ends. While it runs, a context variable holds its request or task
id, the tenant and the user; ``ContextFilter`` copies them onto every record
the console handler writes, so a warning logged deep inside a service names
the request, tenant and user it came from.

Two formatters: ``JsonFormatter`` (one JSON object per line, for production
log collectors) and ``TextFormatter`` (readable, for development). The
settings pick one with ``PRM_LOG_FORMAT``.
"""

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Task
    from django.http import HttpRequest

task_log = logging.getLogger("prm.task")


@dataclass
class LogContext:
    """Whose work is running. Middlewares and the task base class fill in the
    tenant and user once they know them (``bind``)."""

    request_id: str | None = None
    task_id: str | None = None
    tenant: str | None = None  # slug
    tenant_id: str | None = None
    user_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in CONTEXT_FIELDS}


CONTEXT_FIELDS = tuple(f.name for f in fields(LogContext))
_EMPTY = LogContext()
_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar(
    "prm_log_context", default=None
)


def current() -> LogContext | None:
    return _context.get()


def bind(**values: Any) -> None:
    """Add ``tenant=``, ``user_id=``… to the running request's or task's
    context (nothing happens outside one)."""
    context = _context.get()
    if context is None:
        return
    for name, value in values.items():
        setattr(context, name, None if value is None else str(value))


# A request id from a proxy or client is kept only if it is short and plain:
# it ends up in every log line, so no spaces, quotes or control characters.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}", re.ASCII)


def request_id_from(header: str | None) -> str:
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


# URL arguments that are secrets: invitation tokens (only their hash is
# stored), allauth's password reset and email confirmation keys. Logs are
# read by more people than the database is, so the logged path hides them.
SECRET_URL_ARGUMENTS = frozenset({"token", "key"})


def loggable_path(request: "HttpRequest") -> str:
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in (match.kwargs if match else {}).items():
        if name in SECRET_URL_ARGUMENTS and isinstance(value, str) and value:
            path = path.replace(value, "[secret]")
    return path


@contextmanager
def request_context(request_id: str) -> Iterator[LogContext]:
    """The context of one request, for its duration."""
    context = LogContext(request_id=request_id)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


# --- Celery: one line per task -------------------------------------------------------------


@dataclass
class _RunningTask:
    token: contextvars.Token[LogContext | None]
    started: float
    error: str | None = None


# Between task_prerun and task_postrun, by task id (as the signals pass it:
# Celery always sends one, the handlers' defaults allow None).
_running: dict[str | None, _RunningTask] = {}


def task_started(
    task_id: str | None = None,
    task: "Task[Any, Any] | None" = None,
    kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    outer = _context.get()
    tenant_id = (kwargs or {}).get("tenant_id")
    context = LogContext(
        # An eager task run inside a request (development, tests) keeps its id.
        request_id=outer.request_id if outer else None,
        task_id=task_id,
        tenant_id=None if tenant_id is None else str(tenant_id),
    )
    _running[task_id] = _RunningTask(_context.set(context), time.perf_counter())


def _describe(exception: BaseException | None) -> str:
    """``Class: first line of the message``: the task line stays one line
    (the traceback is Celery's own error line)."""
    first_line = next(iter(str(exception).splitlines()), "")
    return f"{exception.__class__.__name__}: {first_line}"[:500]


def task_failed(
    task_id: str | None = None, exception: BaseException | None = None, **_: Any
) -> None:
    if (running := _running.get(task_id)) is not None:
        running.error = _describe(exception)


def task_finished(
    task_id: str | None = None,
    task: "Task[Any, Any] | None" = None,
    state: str | None = None,
    **_: Any,
) -> None:
    running = _running.pop(task_id, None)
    if running is None:
        return
    context = _context.get()
    duration_ms = round((time.perf_counter() - running.started) * 1000, 1)
    if state is None:
        # An eager task (development, tests) that raised: Celery lets the
        # exception through to the caller without task_failure or a state.
        state = "FAILURE"
        if running.error is None and (exception := sys.exc_info()[1]) is not None:
            running.error = _describe(exception)
    try:
        # Celery's task_postrun always sends the task (None only as a default).
        assert task is not None
        task_log.log(
            logging.INFO if state == "SUCCESS" else logging.WARNING,
            "%s %s %.1fms%s",
            task.name,
            state,
            duration_ms,
            f" {running.error}" if running.error else "",
            extra={
                "task": task.name,
                "state": state,
                "duration_ms": duration_ms,
                **({"error": running.error} if running.error else {}),
                **(context or _EMPTY).as_dict(),
            },
        )
    finally:
        _context.reset(running.token)


def connect_task_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="prm.log.prerun")
    signals.task_failure.connect(task_failed, weak=False, dispatch_uid="prm.log.failure")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="prm.log.postrun")


# --- Filter and formatters -----------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Puts the running request's or task's context on every record (fields
    passed explicitly through ``extra=`` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or _EMPTY
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(context, name))
        return True


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and k[0] != "_"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the
    context fields (null when unknown), any ``extra=`` fields, and the
    traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **dict.fromkeys(CONTEXT_FIELDS),
            **_extras(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message [request_id=… tenant=… user_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        known = [
            f"{name}={value}" for name in CONTEXT_FIELDS if (value := getattr(record, name, None))
        ]
        return f"{text} [{' '.join(known)}]" if known else text
