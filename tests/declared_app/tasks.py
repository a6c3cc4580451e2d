from celery import shared_task

from prm.celery import TenantTask
from prm.tenancy.models import AuditEntry, Tenant

# Failures still to come, per probe key (the outbox tests run tasks eagerly,
# in the test's own process).
FAILURES: dict[str, int] = {}


@shared_task
def tick() -> str:
    return "tick"


@shared_task(base=TenantTask)
def probe(*, tenant: Tenant, key: str) -> str:
    """An effect in the database (an audit entry with no once-key, so only
    the outbox makes it happen once), or a failure while ``FAILURES[key]``
    counts down."""
    AuditEntry.objects.create(
        tenant=tenant,
        actor=None,
        action="outbox.probe",
        object_type="probe",
        object_id=key,
        object_repr=key,
    )
    if FAILURES.get(key, 0) > 0:
        FAILURES[key] -= 1
        raise RuntimeError(f"probe {key} failed on purpose")
    return key
