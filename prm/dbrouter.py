"""Reads of reporting's data from a PostgreSQL read replica, when there is one.

Setting ``PRM_DB_REPLICA_HOST`` (and, where they differ from the primary's,
``PRM_DB_REPLICA_PORT``, ``_NAME``, ``_USER``, ``_PASSWORD``) adds the
``replica`` database (``replica_database``) and ``ReplicaRouter`` to the
settings. Without it nothing changes: one database, no router.

The router sends reads of the models of ``REPLICA_APPS`` (the reporting
app's rollups, health scores and digests: what the dashboards read on every
request) to the replica, and everything else to the primary (``default``):
every write, every other app's reads, every migration. Two exceptions keep a
reader from missing what it just wrote, the replica being a little behind:

- inside a transaction on the primary (``transaction.atomic()``: a rollup
  refresh, a service), reads of reporting's models stay on the primary and
  see the transaction's own writes;
- inside ``with primary():`` too (a reconciliation that compares rollups
  with the raw tables must read both at the same moment);
- in Celery tasks, every read (``connect_task_signals``): background work
  refreshes rollups, opens at-risk episodes once, sends each digest once,
  all of which decide what to write from what they read. The replica serves
  the dashboards, which only read.

The test suite configures the replica as a mirror of the primary (``TEST:
{"MIRROR": "default"}``): a second connection to the same test database.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
# The apps whose models are read from the replica.
REPLICA_APPS = frozenset({"reporting"})

_pinned: ContextVar[bool] = ContextVar("prm_reads_on_primary", default=False)


def replica_database(
    primary: Mapping[str, Any],
    *,
    host: str,
    port: str = "",
    name: str = "",
    user: str = "",
    password: str = "",
) -> dict[str, Any] | None:
    """The ``DATABASES["replica"]`` entry for the ``PRM_DB_REPLICA_*``
    values (``None`` without a host): the primary's settings with the
    replica's host, and its port, name, user and password where given."""
    if not host.strip():
        return None
    replica = copy.deepcopy(dict(primary))
    replica["HOST"] = host.strip()
    for key, value in (("PORT", port), ("NAME", name), ("USER", user), ("PASSWORD", password)):
        if value:
            replica[key] = value
    # Tests read the primary's test database through a second connection.
    replica["TEST"] = {"MIRROR": DEFAULT_DB_ALIAS}
    return replica


@contextmanager
def primary() -> Iterator[None]:
    """Reads inside this block go to the primary, replica or not."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)


# Between task_prerun and task_postrun, by task id (as prm.log keeps them).
_tasks: dict[str | None, Token[bool]] = {}


def _task_started(task_id: str | None = None, **_: Any) -> None:
    _tasks[task_id] = _pinned.set(True)


def _task_finished(task_id: str | None = None, **_: Any) -> None:
    if (token := _tasks.pop(task_id, None)) is not None:
        _pinned.reset(token)


def connect_task_signals() -> None:
    """Celery tasks read from the primary (called by ``prm.celery``)."""
    from celery import signals

    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="prm.dbrouter.prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="prm.dbrouter.postrun")


def reads_from_primary() -> bool:
    """Whether reads must stay on the primary here (see the module's docstring)."""
    return _pinned.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry added with the replica (see the module)."""

    databases = frozenset({DEFAULT_DB_ALIAS, REPLICA})

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if model._meta.app_label in REPLICA_APPS and not reads_from_primary():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: an object read from either
        # may point to one read from the other.
        if obj1._state.db in self.databases and obj2._state.db in self.databases:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        # The replica follows the primary's schema by replication.
        return db == DEFAULT_DB_ALIAS
