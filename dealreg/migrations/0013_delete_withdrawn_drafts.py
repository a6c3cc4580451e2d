"""Drafts are deleted, not withdrawn (issue #15): a registration withdrawn
while it was still a draft was never submitted, nobody at the vendor saw it
and nothing points at it but its own events, so it is deleted like a draft
deleted today (its events and product lines go with it; an audit entry per
tenant keeps what was deleted)."""

from django.db import migrations
from django_scopes import scopes_disabled


def delete_withdrawn_drafts(apps, schema_editor):
    DealRegistration = apps.get_model("dealreg", "DealRegistration")
    AuditEntry = apps.get_model("tenancy", "AuditEntry")
    with scopes_disabled():  # every tenant's, on purpose
        _delete(DealRegistration, AuditEntry)


def _delete(DealRegistration, AuditEntry):
    never_submitted = DealRegistration.objects.filter(
        status="withdrawn", submitted_at__isnull=True
    )
    for registration in never_submitted.iterator():
        AuditEntry.objects.create(
            tenant_id=registration.tenant_id,
            actor=None,
            action="dealreg.draft_deleted",
            object_type="dealreg.dealregistration",
            object_id=str(registration.pk),
            object_repr=f"{registration.code} {registration.customer_name}"[:200],
            data={
                "code": registration.code,
                "customer_name": registration.customer_name,
                "why": "withdrawn while a draft (migration 0013)",
            },
        )
        registration.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dealreg", "0012_tenant_trigram_indexes"),
        ("tenancy", "0005_outbox"),
    ]

    operations = [
        migrations.RunPython(delete_withdrawn_drafts, migrations.RunPython.noop),
    ]
