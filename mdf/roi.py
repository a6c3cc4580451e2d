"""The closed loop: what a funded activity cost and what it brought.

Money model (amounts in the tenant's base currency):

- **vendor spend** of an activity: the reimbursement of its approved claim
  (``Claim.reimbursement_amount``); nothing until a claim is approved.
- **partner contribution**: the approved claim's approved cost less that
  reimbursement; **spent** = vendor spend + partner contribution = the
  approved cost.
- **sourced pipeline**: the estimated value of the registrations the
  activity sourced (``SourcedDeal``) that are approved and still open, as
  ``dealreg.metrics`` counts the partner-sourced pipeline; converted at the
  rate in force today.
- **won revenue**: the won amount of the sourced registrations that are won
  (a reversed win does not count), at the rate in force on the close date.
- **ROI** = won revenue ÷ vendor spend (None while the spend is zero).
- **leads**: the leads uploaded for the activity (``ActivityLead``) when
  any were, else the leads its approved claim reports; **cost per lead** =
  vendor spend ÷ leads (None without leads).

Amounts in another currency convert through incentives' exchange rates
(``incentives.ledger.rate_on``'s rule, written as a subquery so a list of
activities is one query); one with no rate in force counts as zero.

A funded activity is a fund request that was approved (approved, claimed or
closed). ``roi_rows`` computes every figure per activity in one query and
groups them in Python, so its cost does not grow with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce

from dealreg.models import DealRegistration
from incentives.models import ExchangeRate
from prm.tenancy.declarations import Period
from prm.tenancy.figures import money
from prm.tenancy.models import Tenant

from .models import ActivityLead, Claim, FundRequest, SourcedDeal

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ZERO = Decimal(0)
Group = Literal["activity", "partner", "fund_type", "period"]
FUNDED = (FundRequest.Status.APPROVED, FundRequest.Status.CLAIMED, FundRequest.Status.CLOSED)
RegStatus = DealRegistration.Status
AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=30, decimal_places=10)


class Figures(TypedDict):
    """What ``activities`` annotates each activity with."""

    vendor_spend: Decimal
    spent: Decimal
    claim_decided_at: datetime | None
    uploaded_leads: int
    reported_leads: int
    lead_count: int
    sourced_pipeline: Decimal
    won_revenue: Decimal
    registrations: int


if TYPE_CHECKING:
    # A funded activity with its figures (``activities``).
    Activity: TypeAlias = WithAnnotations[FundRequest, Figures]


def in_base(tenant: Tenant, amount: str, currency: str, day: Any) -> Expression:
    """``amount`` (a field in ``currency``) in the tenant's base currency,
    at the rate in force on ``day`` (a field or a value): the amount itself
    in the base currency, NULL where no rate is in force."""
    rate = (
        ExchangeRate.objects.filter(
            tenant_id=tenant.pk, currency=OuterRef(currency), valid_from__lte=day
        )
        .order_by("-valid_from")
        .values("rate")[:1]
    )
    return Case(
        When(**{currency: tenant.base_currency}, then=F(amount)),
        default=F(amount) * Subquery(rate),
        output_field=AMOUNT,
    )


def _sum_of_sourced(tenant: Tenant, status: str, value: Expression) -> Subquery:
    rows = (
        SourcedDeal.objects.filter(request=OuterRef("pk"), registration__status=status)
        .annotate(value=value)
        .values("request")
        .annotate(total=Sum("value"))
        .values("total")
    )
    return Subquery(rows, output_field=AMOUNT)


def activities(tenant: Tenant, *, today: date | None = None) -> QuerySet[Activity]:
    """The tenant's funded activities, each annotated with its figures
    (``vendor_spend``, ``spent``, ``sourced_pipeline``, ``won_revenue``,
    ``registrations``, ``lead_count``, ``claim_decided_at``)."""
    today = today or tenant.local_today()
    approved = Claim.objects.filter(request=OuterRef("pk"), status=Claim.Status.APPROVED)
    uploaded = (
        ActivityLead.objects.filter(request=OuterRef("pk"))
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    pipeline = in_base(tenant, "registration__estimated_value", "registration__currency", today)
    won = in_base(
        tenant,
        "registration__won_amount",
        "registration__won_currency",
        OuterRef("registration__won_close_date"),
    )
    counted = (
        SourcedDeal.objects.filter(request=OuterRef("pk"))
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return FundRequest.objects.filter(tenant_id=tenant.pk, status__in=FUNDED).annotate(
        vendor_spend=Coalesce(
            Subquery(approved.values("reimbursement_amount")[:1]), ZERO, output_field=AMOUNT
        ),
        spent=Coalesce(Subquery(approved.values("approved_cost")[:1]), ZERO, output_field=AMOUNT),
        claim_decided_at=Subquery(approved.values("decided_at")[:1]),
        uploaded_leads=Coalesce(Subquery(uploaded, output_field=IntegerField()), 0),
        reported_leads=Coalesce(Subquery(approved.values("leads")[:1]), 0),
        lead_count=Case(
            When(uploaded_leads__gt=0, then=F("uploaded_leads")),
            default=F("reported_leads"),
            output_field=IntegerField(),
        ),
        sourced_pipeline=Coalesce(
            _sum_of_sourced(tenant, RegStatus.APPROVED, pipeline), ZERO, output_field=AMOUNT
        ),
        won_revenue=Coalesce(
            _sum_of_sourced(tenant, RegStatus.WON, won), ZERO, output_field=AMOUNT
        ),
        registrations=Coalesce(Subquery(counted, output_field=IntegerField()), 0),
    )


def claim_approved_in(tenant: Tenant, period: Period) -> Q:
    """Activities whose claim was approved in the period: the spend is
    recognised then (ROI's cohort)."""
    start, after = period.bounds(tenant)
    return Q(
        Exists(
            Claim.objects.filter(
                request=OuterRef("pk"),
                status=Claim.Status.APPROVED,
                decided_at__gte=start,
                decided_at__lt=after,
            )
        )
    )


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` ÷ ``whole`` to two decimals (4.25: won 4.25 times the spend);
    None with nothing to divide by."""
    return money(part / whole) if whole else None


@dataclass
class RoiRow:
    """The figures of one activity, or of a group of them."""

    key: Any
    label: str
    activities: list[Any] = field(default_factory=list)  # request ids
    spent: Decimal = ZERO
    vendor_spend: Decimal = ZERO
    sourced_pipeline: Decimal = ZERO
    won_revenue: Decimal = ZERO
    leads: int = 0
    registrations: int = 0

    @property
    def partner_contribution(self) -> Decimal:
        return self.spent - self.vendor_spend

    @property
    def roi(self) -> Decimal | None:
        return ratio(self.won_revenue, self.vendor_spend)

    @property
    def cost_per_lead(self) -> Decimal | None:
        return money(self.vendor_spend / self.leads) if self.leads else None

    def add(self, activity: Activity) -> None:
        self.activities.append(activity.pk)
        self.spent += activity.spent
        self.vendor_spend += activity.vendor_spend
        self.sourced_pipeline += money(activity.sourced_pipeline)
        self.won_revenue += money(activity.won_revenue)
        self.leads += activity.lead_count
        self.registrations += activity.registrations


def _key(activity: FundRequest, group: Group) -> tuple[Any, str, Any]:
    """(key, label, sort key) of the activity's group."""
    if group == "activity":
        return activity.pk, str(activity), (activity.starts_on, activity.title)
    if group == "partner":
        return activity.partner_id, activity.partner.name, activity.partner.name
    if group == "fund_type":
        return activity.fund_type_id, activity.fund_type.name, activity.fund_type.name
    budget = activity.allocation.budget
    return (
        (budget.starts_on, budget.ends_on),
        budget.period_label,
        budget.starts_on,
    )


def roi_rows(
    tenant: Tenant,
    *,
    group: Group = "activity",
    period: Period | None = None,
    partner_ids: Sequence[Any] | None = None,
    today: date | None = None,
) -> list[RoiRow]:
    """The figures per activity, partner, fund type or budget period (the
    period of the allocation an activity draws on), in one query. With
    ``period``, only the activities whose claim was approved in it; with
    ``partner_ids``, only those partners' activities."""
    if group not in ("activity", "partner", "fund_type", "period"):
        raise ValueError(f"Unknown grouping {group!r}.")
    found = activities(tenant, today=today).select_related(
        "partner", "fund_type", "allocation__budget"
    )
    if period is not None:
        found = found.filter(claim_approved_in(tenant, period))
    if partner_ids is not None:
        found = found.filter(partner_id__in=list(partner_ids))
    rows: dict[Any, RoiRow] = {}
    order: dict[Any, Any] = {}
    for activity in found.order_by():
        key, label, sort = _key(activity, group)
        if key not in rows:
            rows[key] = RoiRow(key=key, label=label)
            order[key] = sort
        rows[key].add(activity)
    return sorted(rows.values(), key=lambda row: order[row.key])


def totals(rows: Iterable[RoiRow]) -> RoiRow:
    """The rows summed (a table's footer)."""
    total = RoiRow(key=None, label="Total")
    for row in rows:
        total.activities += row.activities
        total.spent += row.spent
        total.vendor_spend += row.vendor_spend
        total.sourced_pipeline += row.sourced_pipeline
        total.won_revenue += row.won_revenue
        total.leads += row.leads
        total.registrations += row.registrations
    return total


def sourced_registrations(
    tenant: Tenant,
    *,
    requests: Iterable[Any] | None = None,
    partner_ids: Sequence[Any] | None = None,
    status: Iterable[str] | None = None,
) -> QuerySet[DealRegistration]:
    """The registrations sourced by funded activities (a row's drill-down:
    ``requests=row.activities``), optionally of these statuses."""
    links = SourcedDeal.objects.filter(tenant_id=tenant.pk, request__status__in=FUNDED)
    if requests is not None:
        links = links.filter(request_id__in=list(requests))
    if partner_ids is not None:
        links = links.filter(request__partner_id__in=list(partner_ids))
    found = DealRegistration.objects.filter(
        tenant_id=tenant.pk, pk__in=links.values("registration_id")
    )
    if status is not None:
        found = found.filter(status__in=list(status))
    return found
