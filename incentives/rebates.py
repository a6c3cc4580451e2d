"""Volume rebates: what a partner earned on a rebate plan version for a
period, written to the ledger as the difference from what it already holds
(the period close runs it; ``ledger`` holds the entries and the deals).

A rebate plan limited to tiers counts the tier the partner held on the rule
period's last day (the day the rebate is earned and the entry is dated):
a partner that moved into the tier during the period earns the whole
period's rebate, one that left it earns none."""

from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from dealreg.models import DealRegistration
from partners.models import Partner
from partners.tiers import Timeline, timelines

from . import periods
from .ledger import ONE, NewEntry, eligibility, lock_partner, partner_eligible, rate_on, write
from .models import (
    LedgerEntry,
    PlanVersion,
)
from .money import ZERO, round_money
from .rules import Rule, volume_rebate

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source


def rebate_volume(version: PlanVersion, partner: Partner, start: date, end: date) -> Decimal:
    """The partner's won volume (base currency) in [start, end] on deals
    that qualify for ``version``."""
    deals = DealRegistration.objects.filter(
        partner=partner,
        status=DealRegistration.Status.WON,
        won_close_date__gte=max(start, version.effective_from),
        won_close_date__lte=end if version.effective_to is None else min(end, version.effective_to),
    )
    _, _, products = eligibility(version)
    if products:
        deals = deals.filter(product_lines__in=products).distinct()
    volume = ZERO
    for amount, currency, close in deals.values_list(
        "won_amount", "won_currency", "won_close_date"
    ):
        # A won deal has both: recording or correcting a win sets them
        # (dealreg.protection).
        assert amount is not None and close is not None
        volume += round_money(
            amount * rate_on(version.tenant, currency, close), version.tenant.base_currency
        )
    return volume


def sync_rebate(
    version: PlanVersion,
    partner: Partner,
    start: date,
    *,
    now: datetime | None = None,
    via: str = "sync_rebates",
    timeline: Timeline | None = None,
) -> LedgerEntry | None:
    """Accrue (or correct) the rebate of one partner for one ended period.
    ``timeline``: the partner's tier history, when the caller read it for
    many partners at once (``partners.tiers.timelines``)."""
    now = now or timezone.now()
    tenant = version.tenant
    end = periods.period_end(start, version.period)
    if timeline is None:
        timeline = timelines([partner])[partner.pk]
    tier_id = timeline.on(end)
    with transaction.atomic():
        lock_partner(partner.pk)
        entries = list(
            LedgerEntry.objects.filter(
                plan_version=version, partner=partner, period_start=start, source=Source.REBATE
            ).order_by("created_at", "id")
        )
        net = sum((e.amount for e in entries), ZERO)
        volume = (
            rebate_volume(version, partner, start, end)
            if partner_eligible(version, partner, tier_id=tier_id)
            else ZERO
        )
        target = round_money(volume_rebate(Rule.of(version), volume), tenant.base_currency)
        delta = target - net
        if delta == 0:
            return None
        today = tenant.local_today(now)
        kind = Kind.ACCRUAL if not entries and delta > 0 else Kind.ADJUSTMENT
        label = periods.label(start, version.period)
        return write(
            tenant,
            NewEntry(
                partner_id=partner.pk,
                kind=kind,
                amount=delta,
                currency=tenant.base_currency,
                fx_rate=ONE,
                source=Source.REBATE,
                plan_version_id=version.pk,
                basis_amount=volume,
                basis_currency=tenant.base_currency,
                period_start=start,
                effective_date=end,
                available_on=today,
                description=(
                    f"Rebate {label}: {version.plan.name} v{version.number} on volume {volume}"
                ),
                idempotency_key=f"rebate:{version.pk}:{partner.pk}:{start}:{len(entries) + 1}",
                created_via=via,
            ),
            now=now,
        )
