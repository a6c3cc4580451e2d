"""What each partner has, measured for tier qualification on a day: the
figures a tier's criteria are compared with.

``measure`` takes a set of partners (a queryset, evaluated inside each
query as a subquery, or a list of ids or of Partner instances) and answers
with one query per kind of figure the criteria use, whatever the number of
partners (for a few Partner instances, the agreements are checked one by
one with the portal gate's query, cheaper to build than the one for every
partner type):

- won revenue: won amounts of registrations won (not reversed) with a
  close date in the 12 months up to the day, each converted to the base
  currency at the exchange rate in force on its close date; a win in a
  currency without a rate that day is left out and counted as such;
- approved registrations: registrations decided in those 12 months and not
  rejected (the deal registration metrics' definition of "approved");
- certified people, per certification: the partner's active people holding
  it on the day (confirmed, earned by then, not expired that day);
- agreements in force: no agreement of the program holds the partner back
  on the day (every agreement owed is accepted, or still inside its time to
  accept);
- onboarding plan complete: its plan is complete, or it has no plan in
  progress;
- health score: its latest score from the 31 days up to the day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from dealreg.models import DealRegistration
from incentives.models import ExchangeRate
from onboarding.agreements import blocking_versions, held_partners
from onboarding.models import Plan
from onboarding.training import counting
from partners.models import Partner
from prm.tenancy.declarations import Period
from prm.tenancy.figures import money
from prm.tenancy.models import Tenant
from reporting.models import HealthScore

from .models import TierCriterion

Kind = TierCriterion.Kind
Status = DealRegistration.Status
HEALTH_LOOKBACK_DAYS = 31


def year_before(day: date) -> date:
    """The same day a year earlier (28 February for 29 February): the
    trailing 12 months up to ``day`` are the days after it."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Needs:
    """Which figures a set of criteria uses."""

    kinds: frozenset[str]
    certifications: frozenset[Any] = frozenset()

    @classmethod
    def of(cls, criteria: Iterable[TierCriterion]) -> Needs:
        criteria = list(criteria)
        return cls(
            kinds=frozenset(c.kind for c in criteria),
            certifications=frozenset(c.certification_id for c in criteria if c.certification_id),
        )


@dataclass
class Figures:
    """One partner's figures (absent kinds: not measured)."""

    won_revenue: Decimal = Decimal("0.00")
    unconverted_wins: int = 0
    approved: int = 0
    certified: dict[Any, int] = field(default_factory=dict)
    agreements: bool = True
    plan: bool = True
    health: Decimal | None = None

    def value(self, criterion: TierCriterion) -> Decimal | bool | None:
        if criterion.kind == Kind.WON_REVENUE:
            return self.won_revenue
        if criterion.kind == Kind.APPROVED:
            return Decimal(self.approved)
        if criterion.kind == Kind.CERTIFIED:
            return Decimal(self.certified.get(criterion.certification_id, 0))
        if criterion.kind == Kind.AGREEMENTS:
            return self.agreements
        if criterion.kind == Kind.PLAN:
            return self.plan
        return self.health


def _partner_filter(partners: QuerySet[Any] | list[Any], prefix: str = "partner_id") -> Q:
    if isinstance(partners, QuerySet):
        return Q(**{f"{prefix}__in": partners.values("pk")})
    return Q(**{f"{prefix}__in": _ids(partners)})


def _ids(partners: list[Any]) -> list[Any]:
    """Ids of a list of partners given as ids or as Partner instances."""
    return [p.pk if isinstance(p, Partner) else p for p in partners]


def rate_on_close() -> Subquery:
    """The exchange rate of a won registration's currency on its close date."""
    return Subquery(
        ExchangeRate.objects.filter(
            tenant_id=OuterRef("tenant_id"),
            currency=OuterRef("won_currency"),
            valid_from__lte=OuterRef("won_close_date"),
        )
        .order_by("-valid_from")
        .values("rate")[:1]
    )


def won_revenue(
    tenant: Tenant, day: date, partners: QuerySet[Any] | list[Any]
) -> dict[Any, tuple[Decimal, int]]:
    """Partner id → (won revenue in the base currency, wins left out for
    want of a rate), trailing 12 months up to ``day``. One query."""
    rate = Case(
        When(won_currency=tenant.base_currency, then=Value(Decimal("1"))),
        default=rate_on_close(),
        output_field=DecimalField(max_digits=20, decimal_places=8),
    )
    rows = (
        DealRegistration.objects.filter(
            _partner_filter(partners),
            tenant_id=tenant.pk,
            status=Status.WON,
            won_close_date__gt=year_before(day),
            won_close_date__lte=day,
        )
        .annotate(rate=rate)
        .values("partner_id")
        .annotate(
            total=Sum(F("won_amount") * F("rate"), filter=Q(rate__isnull=False)),
            unconverted=Count("pk", filter=Q(rate__isnull=True)),
        )
    )
    return {r["partner_id"]: (money(r["total"]), r["unconverted"]) for r in rows}


def approved(tenant: Tenant, day: date, partners: QuerySet[Any] | list[Any]) -> dict[Any, int]:
    start, after = tenant_bounds(tenant, year_before(day), day)
    rows = (
        DealRegistration.objects.filter(
            _partner_filter(partners),
            tenant_id=tenant.pk,
            decided_at__gte=start,
            decided_at__lt=after,
        )
        .exclude(status=Status.REJECTED)
        .values("partner_id")
        .annotate(n=Count("pk"))
    )
    return {r["partner_id"]: r["n"] for r in rows}


def tenant_bounds(tenant: Tenant, after_day: date, day: date) -> tuple[Any, Any]:
    """The instants from the start of the day after ``after_day`` to the end
    of ``day``, in the tenant's time zone."""
    return Period(after_day + timedelta(days=1), day).bounds(tenant)


def certified(
    day: date, partners: QuerySet[Any] | list[Any], certifications: Iterable[Any]
) -> dict[Any, dict[Any, int]]:
    rows = (
        counting(day)
        .filter(
            _partner_filter(partners),
            certification_id__in=list(certifications),
            membership__is_active=True,
        )
        .values("partner_id", "certification_id")
        .annotate(people=Count("membership_id", distinct=True))
    )
    found: dict[Any, dict[Any, int]] = {}
    for r in rows:
        found.setdefault(r["partner_id"], {})[r["certification_id"]] = r["people"]
    return found


# Up to this many partners, the agreements are checked partner by partner
# with the portal gate's query (one partner's page: one cheap query instead
# of the one over every partner type, which costs more to build than to run).
FEW = 3


def held(day: date, partners: QuerySet[Any] | list[Any]) -> list[Any]:
    """Ids of those of ``partners`` an agreement holds back on ``day``
    (``onboarding.agreements``' rule)."""
    if isinstance(partners, QuerySet) or len(partners) > FEW:
        found = held_partners(day).filter(_partner_filter(partners, "pk"))
        return list(found.values_list("pk", flat=True))
    if all(isinstance(p, Partner) for p in partners):
        types = [(p.pk, p.partner_type) for p in partners]
    else:
        found_types = Partner.objects.filter(pk__in=_ids(partners))
        types = list(found_types.values_list("pk", "partner_type"))
    return [pk for pk, kind in types if blocking_versions(day, pk, kind).exists()]


def measure(
    tenant: Tenant, day: date, partners: QuerySet[Any] | list[Any], needs: Needs
) -> dict[Any, Figures]:
    """Partner id → its figures on ``day`` for the criteria in ``needs``."""
    ids = (
        list(partners.values_list("pk", flat=True))
        if isinstance(partners, QuerySet)
        else _ids(partners)
    )
    found = {pk: Figures() for pk in ids}
    if Kind.WON_REVENUE in needs.kinds:
        for pk, (total, unconverted) in won_revenue(tenant, day, partners).items():
            found[pk].won_revenue, found[pk].unconverted_wins = total, unconverted
    if Kind.APPROVED in needs.kinds:
        for pk, n in approved(tenant, day, partners).items():
            found[pk].approved = n
    if Kind.CERTIFIED in needs.kinds and needs.certifications:
        for pk, counts in certified(day, partners, needs.certifications).items():
            found[pk].certified = counts
    if Kind.AGREEMENTS in needs.kinds:
        for pk in held(day, partners):
            found[pk].agreements = False
    if Kind.PLAN in needs.kinds:
        open_plans = Plan.objects.filter(_partner_filter(partners), status=Plan.Status.ACTIVE)
        for pk in open_plans.values_list("partner_id", flat=True):
            found[pk].plan = False
    if Kind.HEALTH in needs.kinds:
        scores = (
            HealthScore.objects.filter(
                _partner_filter(partners),
                tenant_id=tenant.pk,
                day__lte=day,
                day__gt=day - timedelta(days=HEALTH_LOOKBACK_DAYS),
            )
            .order_by("partner_id", "-day")
            .distinct("partner_id")
            .values_list("partner_id", "score")
        )
        for pk, score in scores:
            found[pk].health = score
    return found
