from prm.celery import TenantTask, app
from prm.tenancy.services import notify

from .models import DealRegistration, RegistrationEvent


@app.task(base=TenantTask, acks_late=True)
def check_conflicts(*, tenant, registration_id: str) -> int:
    """Run the conflict check of a submitted registration and tell the
    approver what it found. Safe to run again: results are recomputed."""
    from .conflicts import find_conflicts
    from .services import admin_change_url

    registration = (
        DealRegistration.objects.select_related("partner", "approver", "tenant")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None or registration.status not in DealRegistration.ACTIVE:
        return 0
    found = find_conflicts(registration)
    if found:
        already = RegistrationEvent.objects.filter(
            registration=registration,
            kind=RegistrationEvent.Kind.CONFLICTS_FOUND,
            data__count=len(found),
        ).exists()
        if not already:
            RegistrationEvent.objects.create(
                tenant=tenant,
                registration=registration,
                kind=RegistrationEvent.Kind.CONFLICTS_FOUND,
                visible_to_partner=False,
                data={"count": len(found), "reasons": [c.reasons for c in found][:10]},
            )
            notify(
                tenant,
                [registration.approver],
                kind="dealreg.conflicts",
                title=f"{registration.code}: {len(found)} possible conflict(s)",
                body="; ".join(", ".join(c.reasons) for c in found[:5]),
                url=admin_change_url(registration),
            )
    return len(found)
