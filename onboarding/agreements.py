"""Which agreements a partner must accept, and the portal gate that holds
its people back until it has.

An agreement is *required* of a partner when it is active and applies to
the partner's type. Its *current* version is the newest in force today
(effective, not expired). A partner is *held* when, for some required
agreement, it has not accepted the current version and either it never
accepted any version of that agreement, or the current version's grace
period (from its effective date) has run out. A partner that accepted an
earlier version keeps full access during the grace period, with a banner
and reminders."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from partners.models import Partner
from prm.tenancy.declarations import Gate, PortalGate
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role

from .models import Acceptance, Agreement, AgreementVersion, OnboardingSettings


def in_force(day: date) -> Q:
    return Q(effective_on__lte=day) & (Q(expires_on__isnull=True) | Q(expires_on__gt=day))


def current_versions(tenant: Tenant, day: date) -> dict[Any, AgreementVersion]:
    """Agreement id → its current version, for the active agreements."""
    versions = (
        AgreementVersion.objects.filter(in_force(day), agreement__is_active=True)
        .select_related("agreement")
        .order_by("agreement_id", "-number")
        .distinct("agreement_id")
    )
    return {version.agreement_id: version for version in versions}


def grace_days(version: AgreementVersion, settings_row: OnboardingSettings) -> int:
    return (
        version.grace_days if version.grace_days is not None else settings_row.agreement_grace_days
    )


def accept_by(version: AgreementVersion, settings_row: OnboardingSettings) -> date:
    """The last day a partner that accepted an earlier version has."""
    return version.effective_on + timedelta(days=grace_days(version, settings_row))


@dataclass(frozen=True)
class Owed:
    """A required agreement a partner has not accepted in its current
    version: ``blocking`` when it keeps the partner to onboarding pages
    (never accepted, or the grace period is over); otherwise accept it by
    ``deadline``."""

    agreement: Agreement
    version: AgreementVersion
    blocking: bool
    deadline: date | None


def owed(partner: Partner, *, day: date) -> list[Owed]:
    """The partner's required agreements whose current version it has not
    accepted (three queries)."""
    tenant = partner.tenant
    settings_row = OnboardingSettings.for_tenant(tenant)
    current = current_versions(tenant, day)
    accepted = set(
        Acceptance.objects.filter(partner=partner).values_list(
            "version__agreement_id", "version_id"
        )
    )
    accepted_agreements = {agreement_id for agreement_id, _ in accepted}
    accepted_versions = {version_id for _, version_id in accepted}
    found = []
    for version in current.values():
        if not version.agreement.applies_to(partner.partner_type):
            continue
        if version.pk in accepted_versions:
            continue
        earlier = version.agreement_id in accepted_agreements
        deadline = accept_by(version, settings_row) if earlier else None
        blocking = not earlier or (deadline is not None and day > deadline)
        found.append(Owed(version.agreement, version, blocking, deadline))
    return sorted(found, key=lambda o: (not o.blocking, o.agreement.title))


# When a tenant has no settings row yet: the field's default.
DEFAULT_GRACE_DAYS = OnboardingSettings._meta.get_field("agreement_grace_days").default


def blocking_versions(day: date, partner_id: Any, partner_type: Any) -> QuerySet[AgreementVersion]:
    """Current versions of required agreements that hold a partner back on
    ``day``: unaccepted, and either nothing of the agreement was ever
    accepted or the grace period is over. ``partner_id`` may be an
    ``OuterRef``; ``partner_type`` is a value."""
    newer = AgreementVersion.objects.filter(
        in_force(day), agreement_id=OuterRef("agreement_id"), number__gt=OuterRef("number")
    )
    accepted_this = Acceptance.objects.filter(version_id=OuterRef("pk"), partner_id=partner_id)
    accepted_any = Acceptance.objects.filter(
        version__agreement_id=OuterRef("agreement_id"), partner_id=partner_id
    )
    default = Subquery(
        OnboardingSettings.objects.filter(tenant_id=OuterRef("tenant_id")).values(
            "agreement_grace_days"
        )[:1]
    )
    grace = Coalesce(F("grace_days"), default, Value(DEFAULT_GRACE_DAYS))
    # date + integer is a date in PostgreSQL: the last day of the grace period.
    last_day = ExpressionWrapper(F("effective_on") + grace, output_field=DateField())
    return (
        AgreementVersion.objects.filter(in_force(day), agreement__is_active=True)
        .filter(
            Q(agreement__partner_types=[]) | Q(agreement__partner_types__contains=[partner_type])
        )
        .filter(~Exists(newer), ~Exists(accepted_this))
        .annotate(last_day=last_day)
        .filter(~Exists(accepted_any) | Q(last_day__lt=day))
    )


def held_partners(day: date) -> QuerySet[Partner]:
    """Partners held back by an agreement on ``day`` (one query)."""
    held = Q(pk__in=[])
    for partner_type in Partner.Type.values:
        held |= Q(partner_type=partner_type) & Q(
            Exists(blocking_versions(day, OuterRef("pk"), partner_type))
        )
    return Partner.objects.filter(held)


def holds(membership: Membership) -> Gate | None:
    """The portal gate: a partner member whose partner has a blocking
    agreement is kept to the onboarding pages (one query)."""
    partner = membership.partner
    if partner is None:
        return None
    tenant = membership.tenant
    day = tenant.local_today()
    if not blocking_versions(day, partner.pk, partner.partner_type).exists():
        return None
    if membership.role == Role.PARTNER_ADMIN:
        message = "Your organisation has an agreement to accept before it can use the portal."
        action = "Read and accept it"
    else:
        message = (
            "Your organisation has an agreement to accept before it can use the portal; "
            "a partner admin of yours accepts it."
        )
        action = "See the agreements"
    return Gate(message=message, url=reverse("onboarding:agreements"), action=action)


GATE = PortalGate(
    key="onboarding.agreements",
    holds=holds,
    open_namespaces=("onboarding",),
)


def accepted_at(partner: Partner, version: AgreementVersion) -> datetime | None:
    row = Acceptance.objects.filter(partner=partner, version=version).first()
    return row.accepted_at if row else None
