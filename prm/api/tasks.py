"""The API's housekeeping."""

from django_scopes import scopes_disabled

from prm.celery import app

from . import idempotency


@app.task
def purge_idempotency_records() -> int:
    """Beat, hourly: forget Idempotency-Key answers older than 24 hours.
    Platform-level (all tenants)."""
    with scopes_disabled():
        return idempotency.purge()
