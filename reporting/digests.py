"""Digest mails: the program's week to executives, each organisation's month
to its partner admins.

- **Weekly** (executives): on Monday at 07:00 in the tenant's time zone, the
  previous ISO week (Monday to Sunday) with the week before it and the
  quarter to date (on the fiscal calendar, up to that Sunday) beside it.
- **Monthly** (partner admins): on the 1st at 07:00 local time, the previous
  month's figures of their own organisation only.

Beat runs ``reporting.tasks.send_due_digests`` hourly; for each active
tenant, ``queue_due`` looks at the latest send moment of each digest. Once it
has passed (and for ``CATCH_UP`` after, so a beat that was down catches up,
but a person who joins mid-week is not sent last week's news), every
recipient without a ``DigestSent`` row for that period gets one, claimed
against the unique constraint in the same transaction as the outbox message
that mails it. The mail task (``send``) locks the row, mails once, and marks
it sent; a retry, a second sweep or two workers at once send nothing more.

People switch digests off on "My account" (the notification kinds declared
in ``reporting.declare``): they are not claimed for, and a digest claimed
before they switched it off is skipped when it would be sent.

The figures are the dashboards' own (``reporting.figures.headline``, on the
rollups): the executive's those their role may see, the partner admin's
their organisation's (``partner=``), with what is payable now beside them as
the partner dashboard shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incentives.models import LedgerEntry
from incentives.portal_access import may_read_statements
from partners.models import Partner
from prm import format as formatting
from prm.tenancy import outbox, registry
from prm.tenancy.declarations import NO_FILTERS, Good, Period, Unit
from prm.tenancy.models import MailPreference, Membership, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.tasks import send_one

from . import periods
from .figures import Figure, headline
from .models import DigestSent

log = logging.getLogger(__name__)

Kind = DigestSent.Kind
WEEKLY_KIND = "reporting.weekly_digest"
MONTHLY_KIND = "reporting.monthly_digest"
SEND_DIGEST = "reporting.tasks.send_digest"
SEND_AT = time(7, 0)
# How long after its moment a digest is still sent (a beat or worker outage).
CATCH_UP = timedelta(days=2)
# The digests' figures, in this order (those the apps declare and roll up).
EXECUTIVE_KEYS = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.submitted",
    "dealreg.approval_rate",
    "dealreg.sla_compliance",
    "dealreg.win_rate",
    "incentives.accrued",
    "incentives.paid",
)
PARTNER_KEYS = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.submitted",
    "dealreg.win_rate",
)
# An organisation's earnings, to those who may read its statements.
EARNINGS_KEYS = ("incentives.accrued", "incentives.paid")
PAYABLE_NOW = "incentives.payable_now"
# Figures that are "as it stands now", whatever the period: no previous value.
SNAPSHOTS = frozenset(
    {"dealreg.partner_sourced_pipeline", "dealreg.channel_pipeline_share", PAYABLE_NOW}
)


@dataclass(frozen=True)
class Schedule:
    """A digest: who gets it (``role``), the notification kind that switches
    it off, and its dashboard."""

    kind: str
    notification: str
    role: str
    dashboard: str


WEEKLY = Schedule(Kind.WEEKLY, WEEKLY_KIND, Role.EXECUTIVE, "reporting:executive")
MONTHLY = Schedule(Kind.MONTHLY, MONTHLY_KIND, Role.PARTNER_ADMIN, "reporting:partner")
SCHEDULES = {WEEKLY.kind: WEEKLY, MONTHLY.kind: MONTHLY}


@dataclass(frozen=True)
class Due:
    schedule: Schedule
    period: Period
    moment: datetime


# --- When ------------------------------------------------------------------------------


def _at_seven(tenant: Tenant, day: date) -> datetime:
    return datetime.combine(day, SEND_AT, tzinfo=tenant.tzinfo)


def latest(tenant: Tenant, schedule: Schedule, now: datetime) -> Due:
    """The digest whose send moment is the latest at or before ``now``."""
    local = tenant.local_now(now)
    today = local.date()
    if schedule.kind == Kind.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        if local < _at_seven(tenant, monday):
            monday -= timedelta(days=7)
        period = Period(monday - timedelta(days=7), monday - timedelta(days=1))
        return Due(schedule, period, _at_seven(tenant, monday))
    first = today.replace(day=1)
    if local < _at_seven(tenant, first):
        first = (first - timedelta(days=1)).replace(day=1)
    last_month_end = first - timedelta(days=1)
    period = Period(last_month_end.replace(day=1), last_month_end)
    return Due(schedule, period, _at_seven(tenant, first))


def due(tenant: Tenant, schedule: Schedule, now: datetime) -> Due | None:
    """The digest to send now, if its moment passed less than ``CATCH_UP`` ago."""
    found = latest(tenant, schedule, now)
    return found if now - found.moment < CATCH_UP else None


def quarter_to_date(tenant: Tenant, day: date) -> Period:
    """From the first day of the fiscal quarter holding ``day`` to ``day``."""
    return periods.resolve(tenant, "this_quarter", today=day)


# --- Who --------------------------------------------------------------------------------


def recipients(tenant: Tenant, found: Due) -> QuerySet[Membership]:
    """Active members with the digest's role who were members at its moment,
    have not switched it off and have no claim on it for its period."""
    schedule = found.schedule
    switched_off = MailPreference.objects.filter(
        membership=OuterRef("pk"), kind=schedule.notification, email=False
    )
    claimed = DigestSent.objects.filter(
        membership=OuterRef("pk"), kind=schedule.kind, period_start=found.period.start
    )
    members = Membership.objects.filter(
        tenant_id=tenant.pk,
        role=schedule.role,
        is_active=True,
        user__is_active=True,
        created_at__lte=found.moment,
    ).filter(~Exists(switched_off), ~Exists(claimed))
    if schedule.kind == Kind.MONTHLY:
        members = members.filter(partner__isnull=False).exclude(
            partner__status=Partner.Status.TERMINATED
        )
    return members.order_by("pk")


def queue_due(tenant: Tenant, *, now: datetime | None = None) -> int:
    """Claim and queue every digest due now in ``tenant`` (inside its scope).
    Returns how many were queued; running it again queues none of them."""
    now = now or timezone.now()
    queued = 0
    for schedule in SCHEDULES.values():
        found = due(tenant, schedule, now)
        if found is None:
            continue
        with transaction.atomic():
            claims = [
                DigestSent(
                    tenant=tenant,
                    kind=schedule.kind,
                    period_start=found.period.start,
                    period_end=found.period.end,
                    membership_id=member.pk,
                    partner_id=member.partner_id,
                    claimed_at=now,
                )
                for member in recipients(tenant, found).only("pk", "partner_id")
            ]
            if not claims:
                continue
            # Another sweep may claim the same rows at the same moment: the
            # unique constraint keeps its, and only ours are queued.
            DigestSent.objects.bulk_create(claims, ignore_conflicts=True)
            ours = DigestSent.objects.filter(pk__in=[c.pk for c in claims]).values_list(
                "pk", flat=True
            )
            messages = outbox.defer_many(
                tenant, SEND_DIGEST, [{"digest_id": str(pk)} for pk in ours]
            )
            queued += len(messages)
    return queued


# --- What -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One figure of a digest, ready to show: the metric's name and
    definition, the value, the previous period's, the change, and (weekly)
    the quarter to date beside them."""

    key: str
    name: str
    definition: str
    unit: str
    good: str
    value: Decimal | int | None
    previous: Decimal | int | None
    beside: Decimal | int | None
    url: str
    currency: str
    snapshot: bool = False  # as it stands now: no previous period

    def shown(self, value: Decimal | int | None) -> str:
        return show(value, self.unit, self.currency)

    @property
    def value_shown(self) -> str:
        return self.shown(self.value)

    @property
    def previous_shown(self) -> str:
        return self.shown(self.previous) if self.previous is not None else ""

    @property
    def beside_shown(self) -> str:
        return formatting.EMPTY if self.snapshot else self.shown(self.beside)

    @property
    def change(self) -> str:
        """``+12.5%`` (``+2.5 pts`` for a percentage), ``new``, or empty."""
        if self.value is None or self.previous is None:
            return ""
        difference = Decimal(self.value) - Decimal(self.previous)
        if self.unit == Unit.PERCENT:
            return f"{difference:+,.1f} pts".replace("-", "\N{MINUS SIGN}")
        if not self.previous:
            return "new" if difference else "no change"
        ratio = difference * 100 / abs(Decimal(self.previous))
        return f"{ratio:+,.1f}%".replace("-", "\N{MINUS SIGN}")

    @property
    def tone(self) -> str:
        """``up`` or ``down`` as good or bad news: ``good``, ``bad``, or ``""``."""
        if self.value is None or self.previous is None or self.value == self.previous:
            return ""
        rising = self.value > self.previous
        if self.good == Good.HIGH:
            return "good" if rising else "bad"
        if self.good == Good.LOW:
            return "bad" if rising else "good"
        return ""


def show(value: Decimal | int | None, unit: str, currency: str) -> str:
    if value is None:
        return formatting.EMPTY
    if unit == Unit.MONEY:
        return formatting.money(value, currency)
    if unit == Unit.PERCENT:
        return formatting.percent(value)
    if unit == Unit.HOURS:
        return f"{formatting.number(value, 1)} business hours"
    if unit == Unit.DAYS:
        return f"{formatting.number(value, 1)} days"
    return formatting.number(value)


def figures(
    tenant: Tenant, period: Period, member: Membership, *, partner: Partner | None = None
) -> list[Figure]:
    """The dashboards' figures of ``period``: the program's that ``member``
    may see, or (``partner``) that organisation's own."""
    declared = registry.metrics()
    if partner is None:
        keys = [k for k in EXECUTIVE_KEYS if k in declared]
        return headline(tenant, period, NO_FILTERS, keys=keys, membership=member, trend=False)
    wanted = PARTNER_KEYS + (EARNINGS_KEYS if may_read_statements(member) else ())
    keys = [k for k in wanted if k in declared]
    return headline(
        tenant, period, NO_FILTERS, partner=partner.pk, keys=keys, trend=False, links=False
    )


def payable_now(tenant: Tenant, partner: Partner, today: date) -> Decimal:
    """What the organisation's next payout would pay today: its earnings
    available and not paid yet (as the partner dashboard shows it)."""
    unsettled = LedgerEntry.objects.filter(
        tenant_id=tenant.pk, partner_id=partner.pk, settlement__isnull=True
    ).exclude(kind=LedgerEntry.Kind.PAYOUT)
    total = unsettled.aggregate(
        total=Sum("amount_base", filter=Q(available_on__lte=today), default=0)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def lines(
    tenant: Tenant,
    period: Period,
    member: Membership,
    *,
    partner: Partner | None = None,
    beside: Period | None = None,
) -> list[Line]:
    """The digest's figures for ``period``, with the ``beside`` period's."""
    found = figures(tenant, period, member, partner=partner)
    others: dict[str, Any] = {}
    if beside is not None:
        others = {f.metric.key: f.value for f in figures(tenant, beside, member, partner=partner)}
    shown = [_line(tenant, figure, others.get(figure.metric.key)) for figure in found]
    if partner is not None and may_read_statements(member):
        shown.append(
            Line(
                key=PAYABLE_NOW,
                name="Payable now",
                definition=(
                    "Earnings available to be paid and not paid yet: the next payout run pays "
                    "them (once they reach the program's minimum payout)."
                ),
                unit=Unit.MONEY,
                good=Good.NEITHER,
                value=payable_now(tenant, partner, tenant.local_today()),
                previous=None,
                beside=None,
                url="",
                currency=tenant.base_currency,
                snapshot=True,
            )
        )
    return shown


def _line(tenant: Tenant, figure: Figure, beside: Decimal | int | None) -> Line:
    metric = figure.metric
    url = figure.url or ""
    snapshot = metric.key in SNAPSHOTS
    return Line(
        key=metric.key,
        name=metric.name,
        definition=metric.definition,
        unit=str(metric.unit),
        good=str(metric.good),
        value=figure.value,
        previous=None if snapshot else figure.previous,
        beside=beside,
        url=tenant.absolute_url(url) if url.startswith("/") else url,
        currency=tenant.base_currency,
        snapshot=snapshot,
    )


def dashboard_url(tenant: Tenant, kind: str, period: Period) -> str:
    """The digest's dashboard showing ``period``, as an absolute link."""
    query = urlencode({"period": "custom", **period.query()})
    return tenant.absolute_url(f"{reverse(SCHEDULES[kind].dashboard)}?{query}")


# --- Sending ---------------------------------------------------------------------------


def _why_not(digest: DigestSent) -> str:
    """Why a claimed digest is no longer to be mailed (empty: it is)."""
    member = digest.membership
    if not member.is_active or not member.user.is_active:
        return "The person is no longer a member."
    if digest.kind == Kind.MONTHLY and member.partner_id != digest.partner_id:
        return "The person moved to another organisation."
    if MailPreference.objects.filter(
        membership=member, kind=SCHEDULES[digest.kind].notification, email=False
    ).exists():
        return "The person switched this digest off."
    return ""


def context(digest: DigestSent) -> dict[str, Any]:
    """What the digest's mail shows."""
    tenant = digest.tenant
    period = Period(digest.period_start, digest.period_end)
    quarter = quarter_to_date(tenant, period.end) if digest.kind == Kind.WEEKLY else None
    partner = digest.partner if digest.kind == Kind.MONTHLY else None
    return {
        "tenant": tenant,
        "digest": digest,
        "weekly": digest.kind == Kind.WEEKLY,
        "person": digest.membership.user,
        "partner": partner,
        "period": period,
        "previous": period.previous(),
        "quarter": quarter,
        "lines": lines(tenant, period, digest.membership, partner=partner, beside=quarter),
        "dashboard_url": dashboard_url(tenant, digest.kind, period),
        "preferences_url": tenant.absolute_url(reverse("account_mails")),
    }


def subject(digest: DigestSent) -> str:
    tenant = digest.tenant
    if digest.kind == Kind.WEEKLY:
        span = f"{formatting.day(digest.period_start)} to {formatting.day(digest.period_end)}"
        return f"[{tenant.name}] The partner program's week: {span}"
    assert digest.partner is not None  # a partner digest names its organisation
    return f"[{tenant.name}] {digest.partner.name} in {digest.period_start:%B %Y}"


def send(digest_id: str, *, now: datetime | None = None) -> bool:
    """Mail the claimed digest ``digest_id`` once (inside its tenant's scope):
    False when it was sent already or is no longer wanted (then marked
    skipped, with the reason)."""
    with transaction.atomic():
        digest = (
            DigestSent.objects.select_for_update(of=("self",))
            .select_related("tenant", "membership__user", "partner")
            .filter(pk=digest_id, sent_at__isnull=True, skipped="")
            .first()
        )
        if digest is None:
            return False
        reason = _why_not(digest)
        if reason:
            digest.skipped = reason
            digest.save(update_fields=["skipped"])
            log.info("digest %s not sent: %s", digest.pk, reason)
            return False
        data = context(digest)
        with timezone.override(digest.tenant.tzinfo):
            text = render_to_string("reporting/mail/digest.txt", data)
            html = render_to_string("reporting/mail/digest.html", data)
        send_one(subject=subject(digest), message=text, html=html, to=digest.membership.user.email)
        digest.sent_at = now or timezone.now()
        digest.save(update_fields=["sent_at"])
    return True
