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
    Count,
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
    accepted or the grace period is over. ``partner_id`` is a value, or a
    reference to a partner two queries up (it is used inside the
    acceptance subqueries of this query: ``OuterRef(OuterRef("pk"))`` from
    a query of partners); ``partner_type`` is a value."""
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
    # The partner, seen from the acceptance subqueries inside the versions'.
    partner = OuterRef(OuterRef("pk"))
    for partner_type in Partner.Type.values:
        held |= Q(partner_type=partner_type) & Q(
            Exists(blocking_versions(day, partner, partner_type))
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


# --- Who accepted what (the acceptance report) -------------------------------------------

# The report's acceptance states, as its filter names them.
CURRENT, GRACE, HELD, NONE = "current", "grace", "held", "none"
# Partners the report counts unless asked otherwise: those in the program.
IN_PROGRAM = (Partner.Status.ACTIVE, Partner.Status.ONBOARDING)


def current_version(agreement: Agreement, day: date) -> AgreementVersion | None:
    """The agreement's version in force on ``day`` (the newest), if any."""
    return agreement.versions.filter(in_force(day)).order_by("-number").first()


@dataclass(frozen=True)
class Standing:
    """Where an agreement stands on a day: its current version, the last
    day partners that accepted an earlier one have (None when they have
    no grace left or it has no current version), and whether it asks
    anything of anyone (active, with a version in force)."""

    agreement: Agreement
    version: AgreementVersion | None
    deadline: date | None
    day: date

    @property
    def asks(self) -> bool:
        return self.agreement.is_active and self.version is not None

    @property
    def in_grace(self) -> bool:
        return self.deadline is not None and self.day <= self.deadline


def standing(agreement: Agreement, day: date, settings_row: OnboardingSettings) -> Standing:
    version = current_version(agreement, day)
    deadline = accept_by(version, settings_row) if version is not None else None
    return Standing(agreement, version, deadline, day)


def applies_q(agreement: Agreement, prefix: str = "") -> Q:
    """Partners whose type the agreement is asked of."""
    if not agreement.partner_types:
        return Q()
    return Q(**{f"{prefix}partner_type__in": list(agreement.partner_types)})


def state_q(where: Standing, state: str) -> Q:
    """Partners (annotated by ``report_partners``) in ``state``."""
    if state == NONE:
        return Q(accepted_any=False)
    if state == CURRENT:
        return Q(accepted_current=True)
    if not where.asks:
        return Q(pk__in=[])
    if state == GRACE:
        return Q(accepted_current=False, accepted_any=True) if where.in_grace else Q(pk__in=[])
    if state == HELD:
        if where.in_grace:
            return Q(accepted_current=False, accepted_any=False)
        return Q(accepted_current=False)
    return Q()


def report_partners(where: Standing) -> QuerySet[Partner]:
    """The partners the agreement is asked of, annotated with whether they
    accepted its current version (``accepted_current``) and any version
    (``accepted_any``)."""
    of_agreement = Acceptance.objects.filter(
        partner_id=OuterRef("pk"), version__agreement_id=where.agreement.pk
    )
    current = (
        Exists(of_agreement.filter(version_id=where.version.pk))
        if where.version is not None
        else Value(False)
    )
    return Partner.objects.filter(applies_q(where.agreement)).annotate(
        accepted_current=current, accepted_any=Exists(of_agreement)
    )


def state_of(where: Standing, partner: Any) -> str:
    """One annotated partner's state."""
    if partner.accepted_current:
        return CURRENT
    if not where.asks:
        return CURRENT if partner.accepted_any else NONE
    if partner.accepted_any and where.in_grace:
        return GRACE
    return HELD


def latest_acceptances(agreement: Agreement, partner_ids: list[Any]) -> dict[Any, Acceptance]:
    """Partner id → its newest acceptance of any version of the agreement
    (one query)."""
    rows = (
        Acceptance.objects.filter(partner_id__in=partner_ids, version__agreement_id=agreement.pk)
        .select_related("version", "user")
        .order_by("partner_id", "-version__number", "-accepted_at")
        .distinct("partner_id")
    )
    return {row.partner_id: row for row in rows}


@dataclass(frozen=True)
class Tally:
    """An agreement's counts among the partners in view."""

    standing: Standing
    asked: int
    current: int
    grace: int
    held: int


def tallies(
    tenant: Tenant,
    agreement_list: list[Agreement],
    day: date,
    settings_row: OnboardingSettings,
    partners: Q,
) -> list[Tally]:
    """Each agreement's counts among the ``partners`` (two queries: the
    current versions, then every count at once)."""
    versions = current_versions(tenant, day) if agreement_list else {}
    found = []
    counts: dict[str, Any] = {}
    for index, agreement in enumerate(agreement_list):
        version = versions.get(agreement.pk)
        where = Standing(
            agreement,
            version,
            accept_by(version, settings_row) if version else None,
            day,
        )
        found.append(where)
        of_agreement = Acceptance.objects.filter(
            partner_id=OuterRef("pk"), version__agreement_id=agreement.pk
        )
        applies = applies_q(agreement)
        accepted_any = Q(Exists(of_agreement))
        accepted_current = (
            Q(Exists(of_agreement.filter(version_id=version.pk))) if version else Q(pk__in=[])
        )
        counts[f"a{index}"] = Count("pk", filter=applies)
        counts[f"c{index}"] = Count("pk", filter=applies & accepted_current)
        if where.asks:
            if where.in_grace:
                grace = applies & ~accepted_current & accepted_any
                held = applies & ~accepted_current & ~accepted_any
            else:
                grace = Q(pk__in=[])
                held = applies & ~accepted_current
            counts[f"g{index}"] = Count("pk", filter=grace)
            counts[f"h{index}"] = Count("pk", filter=held)
    figures = Partner.objects.filter(partners).aggregate(**counts) if counts else {}
    return [
        Tally(
            where,
            figures.get(f"a{i}", 0),
            figures.get(f"c{i}", 0),
            figures.get(f"g{i}", 0),
            figures.get(f"h{i}", 0),
        )
        for i, where in enumerate(found)
    ]


def expiring_versions(day: date, within_days: int) -> QuerySet[AgreementVersion]:
    """Versions of active agreements in force on ``day`` that expire within
    ``within_days`` days."""
    return AgreementVersion.objects.filter(
        in_force(day),
        agreement__is_active=True,
        expires_on__isnull=False,
        expires_on__lte=day + timedelta(days=within_days),
    )
