"""Incentives' demo data: exchange rates, a plan of each kind, the ledger of
the demo's year (``demo_year``: every win accrued when it was recorded, a
few reversed and clawed back, disputes, monthly statements and payout runs),
and half a year of won deals of the first partners (once)."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from dealreg import services as dealreg
from dealreg.models import ProductLine
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS, LEAD_IN_DAYS, Past, at, demo_member, demo_user
from prm.tenancy.roles import Role

from . import plans
from .demo_year import MONTHLY_RATES, seed_year
from .models import Bracket, ExchangeRate, IncentiveSettings, Plan, PlanVersion
from .periods import Period, period_start

# Accruals are payable ten days after the deal's close (refunds and
# cancellations come within them), so monthly payout runs can keep the
# promise of paying within 30 days for most deals.
HOLDING_DAYS = 10


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    settings_row = IncentiveSettings.for_tenant(tenant)
    if Plan.objects.exists():
        return
    settings_row.holding_days = HOLDING_DAYS
    settings_row.save(update_fields=["holding_days"])
    ops = ctx.people[Role.OPS_ADMIN]
    today = tenant.local_today()
    _rates(ctx, today)
    published = at(tenant, today - timedelta(days=HISTORY_DAYS + LEAD_IN_DAYS + 30), 10)

    def version(name: str, kind: str, rate_type: str, **rule: Any) -> PlanVersion:
        brackets = rule.pop("brackets", [])
        products = rule.pop("product_lines", [])
        plan = Plan.objects.create(tenant=tenant, name=name, kind=kind)
        draft = PlanVersion.objects.create(
            tenant=tenant,
            plan=plan,
            number=1,
            rate_type=rate_type,
            effective_from=rule.pop("effective_from", date(today.year - 1, 1, 1)),
            **rule,
        )
        draft.product_lines.set(products)
        for lower, percent in brackets:
            Bracket.objects.create(
                tenant=tenant,
                version=draft,
                lower=Decimal(lower),
                rate_percent=Decimal(percent),
            )
        return plans.publish(draft, by=ops, now=published)

    version(
        "Resale commission",
        Plan.Kind.COMMISSION,
        PlanVersion.RateType.BRACKETS_MARGINAL,
        brackets=[("0", "6"), ("50000", "8"), ("150000", "10")],
        period=Period.QUARTER,
        quota=Decimal("250000"),
        accelerator=Decimal("1.25"),
        cap_per_deal=Decimal("25000"),
        notes="Stepped: 6% to 50k, 8% to 150k, 10% above; 1.25x above 250k a quarter.",
    )
    quarter = period_start(today, Period.QUARTER)
    version(
        "SD-WAN quarter push",
        Plan.Kind.SPIFF,
        PlanVersion.RateType.FIXED,
        fixed_amount=Decimal("500"),
        effective_from=quarter,
        effective_to=quarter + timedelta(days=91),
        product_lines=[ProductLine.objects.get(code="sdwan")],
    )
    version(
        "Distributor volume rebate",
        Plan.Kind.REBATE,
        PlanVersion.RateType.PERCENT,
        rate_percent=Decimal("2"),
        period=Period.QUARTER,
        partner_types=["distributor"],
    )

    products = list(ProductLine.objects.order_by("code"))
    active = [p for p in ctx.objects["partners.partners"] if p.status == "active"][:5]
    deals = []
    past = Past(tenant)
    for i in range(18):
        partner = active[i % len(active)]
        member = demo_member(
            tenant,
            demo_user(f"sales@{partner.domain}", f"{partner.name} Sales"),
            Role.PARTNER_USER,
            partner=partner,
        )
        currency = ("EUR", "GBP")[i % 2] if i % 5 == 4 else tenant.base_currency
        amount = Decimal(18000 + (i * 7919) % 90000)
        close = today - timedelta(days=170 - i * 9)
        # History: each step at the time it happened.
        then = timezone.now() - timedelta(days=200 - i * 9)
        with past.at(then):
            registration = dealreg.submit(
                tenant=tenant,
                by=member,
                given=dealreg.RegistrationInput(
                    data={
                        "customer_name": f"Demo Customer {i + 1:02d}",
                        "customer_domain": f"customer{i + 1:02d}.example",
                        "customer_country": "US",
                        "estimated_value": amount,
                        "currency": currency,
                        "expected_close_date": close + timedelta(days=30),
                        "description": "Demo history",
                    },
                    product_lines=[products[i % len(products)]],
                ),
                client_token=uuid.uuid4(),
                now=then,
            )
        with past.at(then + timedelta(hours=5)):
            dealreg.approve(registration, by=ops, now=then + timedelta(hours=5))
        with past.at(then + timedelta(days=31)):
            deals.append(
                dealreg.record_outcome(
                    registration,
                    by=ops,
                    won=True,
                    amount=amount,
                    close_date=close,
                    now=then + timedelta(days=31),
                )
            )
    past.settle()
    # The year's ledger, these deals' included (one of them cancelled).
    seed_year(ctx, reverse=[deals[-3]])


def _rates(ctx: DemoContext, today: date) -> None:
    """A rate per currency from the start of last year, and one from the
    first of each month of the demo's year (rates drift), as finance enters
    them on the first working day of the month."""
    tenant = ctx.tenant
    base = tenant.base_currency
    rates = MONTHLY_RATES.get(base, MONTHLY_RATES["USD"])
    start = today - timedelta(days=HISTORY_DAYS)
    for currency, rate in rates.items():
        if currency == base:
            continue
        first = date(today.year - 1, 1, 1)
        ExchangeRate.objects.create(
            tenant=tenant,
            currency=currency,
            valid_from=first,
            rate=rate,
            created_by=ctx.users[Role.FINANCE],
            created_at=at(tenant, first, 9),
        )
        month = date(start.year, start.month, 1)
        n = 0
        while month <= today:
            if month > first:
                drift = Decimal(1 + 0.018 * ((n * 7) % 5 - 2) / 2).quantize(Decimal("0.0001"))
                ExchangeRate.objects.create(
                    tenant=tenant,
                    currency=currency,
                    valid_from=month,
                    rate=(rate * drift).quantize(Decimal("0.000001")),
                    created_by=ctx.users[Role.FINANCE],
                    created_at=at(tenant, month, 9),
                )
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            n += 1
