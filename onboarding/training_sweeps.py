"""Certification expiry reminders, by the tenant's local date (Celery beat,
hourly: ``tasks.dispatch_training_sweeps``; dates are local, so hourly
catches every time zone's midnight).

60, 30 and 7 days before a confirmed certification's ``expires_on`` the
person holding it and their partner's admins are told, once per record and
step. Only the lowest step that applies on the day is sent: a record first
seen 20 days before it expires gets the 30-day reminder and no 60-day one.
Nothing is sent at expiry: from ``expires_on`` on, the certification simply
stops counting (``models.valid_on``).

"Once" is an audit entry with a once-key (``prm.tenancy.services.once``):
the database refuses a second, so a sweep run twice, or two at once, sends
each reminder once.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.declarations import NotificationKind
from prm.tenancy.models import AuditEntry, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import AlreadyDone, audit, notify, once

from . import training
from .agreement_sweeps import partner_admins
from .models import TrainingRecord

# Days before a certification expires when its holder is reminded.
EXPIRY_DAYS = (60, 30, 7)
HORIZON = max(EXPIRY_DAYS)

CERTIFICATION_EXPIRING = "onboarding.certification_expiring"

BEAT = {
    "onboarding-training": {
        "task": "onboarding.tasks.dispatch_training_sweeps",
        "schedule": 3600.0,
    },
}

NOTIFICATION_KINDS = (
    NotificationKind(
        CERTIFICATION_EXPIRING,
        "A certification of mine or my team's expires soon",
        frozenset({Role.PARTNER_ADMIN, Role.PARTNER_USER}),
    ),
)


@dataclass
class SweepResult:
    reminders: int = 0


def expiry_step(days_left: int) -> int | None:
    """The reminder step ``days_left`` days before expiry falls in (None
    when more than 60 days are left, or it has expired)."""
    if days_left <= 0:
        return None
    within = [days for days in EXPIRY_DAYS if days_left <= days]
    return min(within) if within else None


def reminder_key(row: TrainingRecord, step: int) -> str:
    return f"onboarding.cert_expiry:{row.pk.hex}:{step}"


def due(today: date) -> list[TrainingRecord]:
    """Confirmed certifications of active people expiring within 60 days."""
    return list(
        training.expiring(today, today + timedelta(days=HORIZON))
        .filter(membership__is_active=True)
        .select_related("membership__user", "certification", "partner")
        .order_by("expires_on", "pk")
    )


def sweep(tenant: Tenant, now: datetime | None = None) -> SweepResult:
    """Send the day's expiry reminders in ``tenant`` (whose scope must be
    active)."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    rows = due(today)
    # ``due`` reads only records with an expiry date.
    steps = {row.pk: expiry_step((row.expires_on - today).days) for row in rows if row.expires_on}
    keys = {
        pk: reminder_key(row, step) for row in rows if (step := steps.get(pk := row.pk)) is not None
    }
    sent_keys = set(
        AuditEntry.objects.filter(once_key__in=list(keys.values())).values_list(
            "once_key", flat=True
        )
    )
    todo = [row for row in rows if row.pk in keys and keys[row.pk] not in sent_keys]
    admins = partner_admins({row.partner_id for row in todo})
    result = SweepResult()
    for row in todo:
        if _remind(tenant, row, steps[row.pk], keys[row.pk], today, now, admins):
            result.reminders += 1
    return result


def _remind(
    tenant: Tenant,
    row: TrainingRecord,
    step: Any,
    key: str,
    today: date,
    now: datetime,
    admins: dict[Any, list[Any]],
) -> bool:
    assert row.expires_on is not None and row.certification is not None  # from ``expiring``
    person = row.membership.user
    days_left = (row.expires_on - today).days
    when = f"{fmt.day(row.expires_on)} (in {fmt.plural(days_left, 'day')})"
    try:
        with once(tenant, key) as once_key:
            audit(
                tenant,
                by=None,
                action="onboarding.certification_expiry_reminder",
                obj=row,
                data={"days": step, "expires_on": str(row.expires_on)},
                now=now,
                once_key=once_key,
            )
            notify(
                tenant,
                [person],
                kind=CERTIFICATION_EXPIRING,
                title=f"Your {row.certification.name} certification expires on {when}",
                body="Renew it before then: from that day it no longer counts as one of "
                f"{row.partner.name}'s certifications.",
                url=reverse("onboarding:training"),
                about=row,
            )
            notify(
                tenant,
                [user for user in admins.get(row.partner_id, []) if user.pk != person.pk],
                kind=CERTIFICATION_EXPIRING,
                title=f"{person}'s {row.certification.name} certification expires on {when}",
                body="From that day it no longer counts as one of your organisation's "
                "certifications, unless it is renewed.",
                url=reverse("onboarding:training"),
                about=row,
            )
    except AlreadyDone:
        return False
    return True


__all__ = ["BEAT", "NOTIFICATION_KINDS", "SweepResult", "expiry_step", "sweep"]
