import os
from typing import Any

from celery import Celery, Task, signals
from celery.exceptions import NotRegistered
from django.db import transaction

from prm import log

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")

app = Celery("prm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log through the settings' LOGGING (the same format as
    the web server, with task ids and tenants) instead of Celery's own set-up;
    the level is PRM_LOG_LEVEL's, not ``--loglevel``'s."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


log.connect_task_signals()


class TenantTask(Task):
    """Base for tasks that work on one tenant's data.

    Callers pass ``tenant_id=`` (a string); the task re-fetches the tenant and
    runs inside its scope, receiving the ``Tenant`` as ``tenant=``. Other
    arguments should be ids too, re-fetched inside the scope. An inactive or
    deleted tenant's queued work is dropped.
    """

    abstract = True
    # Callers pass tenant_id where the function takes tenant; Celery's
    # argument check at .delay() would refuse that.
    typing = False

    def __call__(self, *args: Any, tenant_id: str, **kwargs: Any) -> Any:
        from prm.tenancy.models import Tenant
        from prm.tenancy.scoping import tenant_scope

        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            return None
        log.bind(tenant=tenant.slug)
        with tenant_scope(tenant):
            return super().__call__(*args, tenant=tenant, **kwargs)


def task_named(name: str) -> Task:
    """The task registered as ``name``, its app's tasks module imported if
    need be: a service enqueues its app's tasks by name, so it never imports
    the tasks module (which imports the services)."""
    try:
        return app.tasks[name]
    except NotRegistered:
        app.loader.import_default_modules()
        return app.tasks[name]


def enqueue_on_commit(name: str, **kwargs: Any) -> None:
    """Queue the task registered as ``name`` with ``kwargs`` once the current
    transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: task_named(name).delay(**kwargs))
