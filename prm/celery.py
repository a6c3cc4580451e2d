import os
from typing import Any

from celery import Celery, Task, signals

from prm import dbrouter, log

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
# Tasks read from the primary database, never from a read replica.
dbrouter.connect_task_signals()


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

    def __call__(
        self, *args: Any, tenant_id: str, outbox_id: str | None = None, **kwargs: Any
    ) -> Any:
        from prm.tenancy.models import Tenant
        from prm.tenancy.scoping import tenant_scope

        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            return None
        log.bind(tenant=tenant.slug)
        with tenant_scope(tenant):
            if outbox_id is None:
                return super().__call__(*args, tenant=tenant, **kwargs)
            # Handed over from the outbox: once, marked done with its effect.
            from prm.tenancy import outbox

            body = super().__call__
            return outbox.run(outbox_id, lambda: body(*args, tenant=tenant, **kwargs))
