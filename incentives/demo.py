"""Incentives' demo data: exchange rates, a plan of each kind, half a year of
won deals accrued through the same services as production, one win
reversed, and a paid payout run (once)."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from dealreg import services as dealreg
from dealreg.models import ProductLine
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import demo_member, demo_user
from prm.tenancy.roles import Role

from . import ledger, payouts, plans
from .models import Bracket, ExchangeRate, IncentiveSettings, Plan, PlanVersion
from .periods import Period, period_start


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    IncentiveSettings.for_tenant(tenant)
    if Plan.objects.exists():
        return
    ops = ctx.people[Role.OPS_ADMIN]
    today = tenant.local_today()
    for currency, rate in (("EUR", "1.0842"), ("GBP", "1.2671"), ("CAD", "0.7312")):
        if currency != tenant.base_currency:
            ExchangeRate.objects.create(
                tenant=tenant,
                currency=currency,
                valid_from=date(today.year - 1, 1, 1),
                rate=Decimal(rate),
            )

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
        return plans.publish(draft, by=ops)

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
        dealreg.approve(registration, by=ops, now=then + timedelta(hours=5))
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
    for deal in deals:
        ledger.sync_deal(deal, via="seed_demo")
    # A cancelled order: its commission is clawed back.
    dealreg.reverse_win(deals[-3], by=ops, reason="Customer cancelled the order.")
    ledger.sync_deal(deals[-3], via="seed_demo")

    # A paid payout run: deals closed over 30 days ago are paid; newer ones
    # wait out the holding period.
    finance = ctx.people[Role.FINANCE]
    # Four eyes on payout runs: a second finance person approves.
    checker = demo_member(
        tenant,
        demo_user(f"finance.checker@{tenant.slug}.example", "Farid Finance-Checker"),
        Role.FINANCE,
    )
    run = payouts.start_run(tenant, by=finance, cutoff=today)
    run = payouts.compute_run(run)
    run = payouts.approve(run, by=checker)
    run = payouts.write_payouts(run)
    payouts.mark_paid(run, by=finance, reference="DEMO-ACH-0001")
