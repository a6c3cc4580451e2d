"""Publishing to the broker: tasks by name, and kicks that survive a
broker outage.

Services queue their app's tasks by name (they never import the tasks
module, which imports them). Work that must not be lost goes through the
outbox (``prm.tenancy.outbox.defer``); ``kick`` is for work whose need is
already state in the database that a beat sweep finds.
"""

import logging
import threading
from typing import Any

from celery import Task, current_app
from celery.exceptions import NotRegistered
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnreachable

log = logging.getLogger(__name__)

__all__ = ["QUICK_RETRY", "BrokerUnreachable", "kick", "kick_on_commit", "task_named"]


# Threads of one web process (gunicorn's gthread workers) may look up their
# first task at once: one imports the tasks modules while the others wait,
# instead of finding the import under way and the task not registered yet.
_importing = threading.Lock()


def task_named(name: str) -> Task:
    """The task registered as ``name``, its app's tasks module imported if
    need be: a service enqueues its app's tasks by name, so it never imports
    the tasks module (which imports the services)."""
    try:
        return current_app.tasks[name]
    except NotRegistered:
        with _importing:
            current_app.loader.import_default_modules()
        return current_app.tasks[name]


# Publishing to a broker that went away: one quick reconnect (a pooled
# connection that a Redis restart closed), then give up, rather than hold a
# request for kombu's default seconds of retries.
QUICK_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def kick(name: str, **kwargs: Any) -> bool:
    """Queue the task registered as ``name`` now, if the broker answers.

    Only for work whose need is state in the database that a beat sweep
    finds (a won deal not yet accrued, a payout run without a heartbeat):
    a kick only makes it happen sooner, and a lost one costs a sweep's wait.
    Work with no such state goes through ``prm.tenancy.outbox.defer``."""
    try:
        task_named(name).apply_async(kwargs=kwargs, retry=True, retry_policy=QUICK_RETRY)
    except BrokerUnreachable as exc:
        log.warning("Broker unreachable (%s): %s waits for its sweep", exc, name)
        return False
    return True


def kick_on_commit(name: str, **kwargs: Any) -> None:
    """``kick`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: kick(name, **kwargs))
