"""URL matrix entries of the incentives plans admin (see __init__.py): plans,
versions, exchange rates, settings, the ledger and stuck accruals. Each
factory returns the same object when called again for the same tenant."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dealreg.models import DealRegistration
from incentives import adjustments
from incentives.models import (
    DealAccrualState,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
)
from prm.tenancy.roles import Role

# One token per tenant world: the adjustment is written once.
_TOKEN = uuid.UUID("00000000-0000-4000-8000-00000000a7a1")


def plan(world: Any) -> Plan:
    with world.scope():
        found, _ = Plan.objects.get_or_create(
            tenant=world.tenant,
            name="Matrix plan",
            defaults={"kind": Plan.Kind.COMMISSION},
        )
        return found


def plan_version(world: Any) -> PlanVersion:
    """A draft (only drafts may be deleted)."""
    owner = plan(world)
    with world.scope():
        found = PlanVersion.objects.filter(plan=owner, number=1).first()
        if found is None:
            found = PlanVersion.objects.create(
                tenant=world.tenant,
                plan=owner,
                number=1,
                effective_from=date(2030, 1, 1),
                rate_type=PlanVersion.RateType.PERCENT,
                rate_percent=Decimal("5"),
            )
        return found


def exchange_rate(world: Any) -> ExchangeRate:
    with world.scope():
        found, _ = ExchangeRate.objects.get_or_create(
            tenant=world.tenant,
            currency="EUR",
            valid_from=date(2030, 1, 1),
            defaults={"rate": Decimal("1.0837")},
        )
        return found


def settings_row(world: Any) -> IncentiveSettings:
    with world.scope():
        return IncentiveSettings.for_tenant(world.tenant)


def ledger_entry(world: Any) -> LedgerEntry:
    with world.scope():
        return adjustments.manual_adjustment(
            world.tenant,
            by=world[Role.FINANCE],
            partner=world.partner,
            amount=Decimal("25.00"),
            currency=world.tenant.base_currency,
            effective_date=date.today() - timedelta(days=1),
            reason="Matrix adjustment",
            token=str(_TOKEN),
        )


def accrual_state(world: Any) -> DealAccrualState:
    """A won deal whose accrual waits for an exchange rate."""
    with world.scope():
        found = DealAccrualState.objects.exclude(problem="").first()
        if found is not None:
            return found
        registration = DealRegistration.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name="Matrix Won Customer",
            customer_name_normalized="matrix won customer",
            customer_country="US",
            estimated_value=Decimal("1000.00"),
            currency="GBP",
            expected_close_date=date(2030, 1, 15),
            status=DealRegistration.Status.WON,
            won_amount=Decimal("1000.00"),
            won_currency="GBP",
            won_close_date=date(2030, 1, 15),
        )
        return DealAccrualState.objects.create(
            tenant=world.tenant,
            registration=registration,
            problem="No GBP exchange rate is in force on 2030-01-15.",
        )


PLANS_ADMIN_OBJECTS = {
    "incentives.plan": plan,
    "incentives.planversion": plan_version,
    "incentives.exchangerate": exchange_rate,
    "incentives.incentivesettings": settings_row,
    "incentives.ledgerentry": ledger_entry,
    "incentives.dealaccrualstate": accrual_state,
}
# Ledger entries are only added (manual adjustments by finance); the
# accrual states are written by the sync; the settings are one row per tenant.
PLANS_ADMIN_NOBODY = {
    ("incentives.ledgerentry", "change"),
    ("incentives.ledgerentry", "delete"),
    ("incentives.dealaccrualstate", "add"),
    ("incentives.dealaccrualstate", "change"),
    ("incentives.dealaccrualstate", "delete"),
    ("incentives.incentivesettings", "add"),
    ("incentives.incentivesettings", "delete"),
}
PLANS_CUSTOM_ADMIN_VIEWS = {
    "incentives_planversion_preview": "incentives.preview_planversion",
    "incentives_ledgerentry_export": "incentives.export_ledgerentry",
    "incentives_exchangerate_import": "incentives.add_exchangerate",
}
