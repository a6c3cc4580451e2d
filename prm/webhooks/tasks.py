"""Webhook tasks: thin, by name (``webhooks.*``); the work is in
``delivery``."""

from typing import Any

from prm.celery import TenantTask, app
from prm.tenancy import outbox
from prm.tenancy.models import Tenant

from . import delivery, retention


class DeliveryTask(TenantTask):
    """A task the outbox hands a delivery to. The delivery row is its own
    outbox (pending and due until an attempt is answered, which the sweep
    finds), so the outbox message is done once a worker has it: it is
    marked done first, in a short transaction of its own, and the request
    then goes out holding no transaction or lock (``outbox.run`` would hold
    the message's row lock through the body)."""

    abstract = True

    def __call__(
        self, *args: Any, tenant_id: str, outbox_id: str | None = None, **kwargs: Any
    ) -> Any:
        return super().__call__(*args, tenant_id=tenant_id, handed_over=outbox_id, **kwargs)


@app.task(base=DeliveryTask, name="webhooks.deliver")
def deliver(
    *,
    tenant: Tenant,
    delivery_id: str,
    attempt_id: str | None = None,
    handed_over: str | None = None,
) -> str | None:
    """Send one delivery: an attempt a sweep or "send again" started
    (``attempt_id``), or, handed over after its event's commit, a new one
    if the delivery is still due. Returns the attempt's id."""
    if handed_over is not None:
        outbox.run(handed_over, lambda: None)
    if attempt_id is not None:
        attempt = delivery.send_claimed(attempt_id)
    else:
        claimed = delivery.claim(delivery_id)
        attempt = delivery.send(claimed) if claimed is not None else None
    return str(attempt.pk) if attempt is not None else None


@app.task(name="webhooks.sweep")
def sweep() -> int:
    """Every minute: start the due deliveries (platform-level)."""
    return delivery.sweep()


@app.task(name="webhooks.purge")
def purge() -> int:
    """Daily: delete events, deliveries and attempts past their keeping."""
    return retention.purge()
