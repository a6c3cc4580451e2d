"""Agreement reminders and expiry warnings, by the tenant's local date
(Celery beat, hourly: ``tasks.dispatch_agreement_sweeps``).

New versions. While partners that accepted an earlier version of an
agreement keep full access (the current version's days to accept), their
partner admins are reminded to accept it: when it takes effect, 7 days and
1 day before those days run out (only the lowest step that applies on the
day is sent: a version found with 5 days left gets the 7-day reminder and
no announcement). Each is sent once per partner and version.

Expiry. 60, 30 and 7 days before the current version of an active
agreement expires, ops and the partner admins of the partners that
accepted it are warned, once per version and step (likewise the lowest
step that applies).

"Once" is an audit entry with a once-key (``prm.tenancy.services.once``):
the database refuses a second, so a sweep run twice, or two at once, sends
each message once.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.models import AuditEntry, Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import AlreadyDone, audit, notify, once, staff_with_role

from . import agreements
from .models import Acceptance, AgreementVersion, OnboardingSettings

# Reminder steps: when a version takes effect ("new"), then days before the
# days to accept run out.
NEW = "new"
REMINDER_DAYS = (7, 1)
# Days before a version expires when it is announced.
EXPIRY_DAYS = (60, 30, 7)

BEAT = {
    "onboarding-agreements": {
        "task": "onboarding.tasks.dispatch_agreement_sweeps",
        "schedule": 3600.0,
    },
}


@dataclass
class SweepResult:
    reminders: int = 0
    expiry_warnings: int = 0


def sweep(tenant: Tenant, now: datetime | None = None) -> SweepResult:
    """Send the day's reminders and expiry warnings in ``tenant`` (whose
    scope must be active)."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    settings_row = OnboardingSettings.for_tenant(tenant)
    current = agreements.current_versions(tenant, today)
    result = SweepResult()
    for version in current.values():
        version.tenant = tenant
        result.reminders += remind(version, today, now, settings_row)
        result.expiry_warnings += warn_expiry(version, today, now)
    return result


def reminder_step(days_left: int) -> str | None:
    """The reminder step ``days_left`` days before the last day to accept
    falls in (None once it has passed)."""
    if days_left < 0:
        return None
    within = [days for days in REMINDER_DAYS if days_left <= days]
    return str(min(within)) if within else NEW


def expiry_step(days_left: int) -> int | None:
    within = [days for days in EXPIRY_DAYS if days_left <= days]
    return min(within) if within and days_left >= 0 else None


def partner_admins(partner_ids: Any) -> dict[Any, list[User]]:
    """Partner id → its active partner admins (one query; ``partner_ids``
    may be a subquery)."""
    found: dict[Any, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(
        partner_id__in=partner_ids,
        role=Role.PARTNER_ADMIN,
        is_active=True,
        user__is_active=True,
    ).select_related("user"):
        found[membership.partner_id].append(membership.user)
    return found


def _sent(keys: list[str]) -> set[str]:
    return set(AuditEntry.objects.filter(once_key__in=keys).values_list("once_key", flat=True))


def reminder_key(version: AgreementVersion, partner_id: Any, step: str) -> str:
    return f"onboarding.remind:{version.pk.hex}:{partner_id.hex}:{step}"


def remind(
    version: AgreementVersion, today: date, now: datetime, settings_row: OnboardingSettings
) -> int:
    """Remind the partner admins of partners that accepted an earlier
    version of the agreement, not this one, while they may still accept."""
    tenant = version.tenant
    agreement = version.agreement
    deadline = agreements.accept_by(version, settings_row)
    step = reminder_step((deadline - today).days)
    if step is None:
        return 0
    of_agreement = Acceptance.objects.filter(
        partner_id=OuterRef("pk"), version__agreement_id=agreement.pk
    )
    waiting = list(
        Partner.objects.filter(agreements.applies_q(agreement))
        .filter(Exists(of_agreement), ~Exists(of_agreement.filter(version_id=version.pk)))
        .order_by("pk")
        .values_list("pk", "name")
    )
    if not waiting:
        return 0
    keys = {pk: reminder_key(version, pk, step) for pk, _ in waiting}
    done = _sent(list(keys.values()))
    todo = [(pk, name) for pk, name in waiting if keys[pk] not in done]
    admins = partner_admins([pk for pk, _ in todo])
    url = reverse("onboarding:agreement", args=[version.pk])
    days_left = (deadline - today).days
    when = "today" if days_left == 0 else f"within {fmt.plural(days_left, 'day')}"
    changes = f" What changed: {version.change_summary}" if version.change_summary else ""
    sent = 0
    for pk, name in todo:
        try:
            with once(tenant, keys[pk]) as key:
                audit(
                    tenant,
                    by=None,
                    action="onboarding.agreement_reminder",
                    obj=version,
                    data={"partner": str(pk), "step": step, "deadline": str(deadline)},
                    now=now,
                    once_key=key,
                )
                notify(
                    tenant,
                    admins[pk],
                    kind="onboarding.agreement_new_version",
                    title=f"Accept {agreement.title} version {version.number} "
                    f"by {fmt.day(deadline)}",
                    body=(
                        f"Version {version.number} of {agreement.title} is in force since "
                        f"{fmt.day(version.effective_on)}. {name} keeps full use of the portal "
                        f"until {fmt.day(deadline)}: accept the new version {when}; after that "
                        "the portal is limited to the agreements until it is accepted."
                        f"{changes}"
                    ),
                    url=url,
                    about=version,
                )
        except AlreadyDone:
            continue
        sent += 1
    return sent


def expiry_key(version: AgreementVersion, step: int) -> str:
    return f"onboarding.expiry:{version.pk.hex}:{step}"


def warn_expiry(version: AgreementVersion, today: date, now: datetime) -> int:
    """Warn ops and the partners that accepted ``version`` that it expires
    soon (once per step)."""
    if version.expires_on is None:
        return 0
    tenant = version.tenant
    agreement = version.agreement
    days_left = (version.expires_on - today).days
    step = expiry_step(days_left)
    if step is None or _sent([expiry_key(version, step)]):
        return 0
    successor = (
        AgreementVersion.objects.filter(agreement_id=agreement.pk, number__gt=version.number)
        .order_by("number")
        .first()
    )
    next_words = (
        f" Version {successor.number} takes effect on {fmt.day(successor.effective_on)}."
        if successor is not None
        else " No later version is scheduled yet."
    )
    title = (
        f"{agreement.title} version {version.number} expires on "
        f"{fmt.day(version.expires_on)} (in {fmt.plural(days_left, 'day')})"
    )
    accepted_by = Acceptance.objects.filter(version_id=version.pk).values("partner_id")
    admins = [user for users in partner_admins(accepted_by).values() for user in users]
    try:
        with once(tenant, expiry_key(version, step)) as key:
            audit(
                tenant,
                by=None,
                action="onboarding.agreement_expiry_warning",
                obj=version,
                data={"days": step, "expires_on": str(version.expires_on)},
                now=now,
                once_key=key,
            )
            notify(
                tenant,
                staff_with_role(Role.OPS_ADMIN),
                kind="onboarding.agreement_expiring",
                title=title,
                body=f"After {fmt.day(version.expires_on)} the agreement is asked of nobody "
                f"until a version is in force again.{next_words}",
                url=reverse("tenant_admin:onboarding_agreementversion_change", args=[version.pk]),
                about=version,
            )
            notify(
                tenant,
                admins,
                kind="onboarding.agreement_expiring",
                title=title,
                body=f"The version of {agreement.title} your organisation accepted expires on "
                f"{fmt.day(version.expires_on)}.{next_words}",
                url=reverse("onboarding:agreement", args=[version.pk]),
                about=version,
            )
    except AlreadyDone:
        return 0
    return 1


__all__ = ["BEAT", "SweepResult", "sweep"]
