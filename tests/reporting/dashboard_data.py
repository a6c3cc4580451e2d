"""A quarter of deal registrations for the dashboard tests, dated from the
tenant's today so "this quarter" and the quarter before both hold figures:
approved, won (one in euros, one reversed), lost, rejected, and some at the
tenant's other partner. Rollups are rebuilt at the end."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from dealreg.models import DealRegistration
from prm.tenancy.roles import Role
from reporting import rollups

Status = DealRegistration.Status
_seq = count(1)


def registration(world, *, days_ago, partner=None, status=Status.APPROVED, **fields):
    """A registration submitted ``days_ago`` days before today (local
    noon), decided a day later, as it ends up (no workflow)."""
    tenant = world.tenant
    zone = ZoneInfo(tenant.timezone)
    today = tenant.local_today()
    submitted = datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=zone)
    decided = submitted + timedelta(days=1)
    if decided.date() > today:
        decided = submitted
    n = next(_seq)
    with world.scope():
        return DealRegistration.objects.create(
            tenant=tenant,
            partner=partner or world.partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name=f"Dashboard customer {n}",
            customer_name_normalized=f"dashboard customer {n}",
            customer_country="US",
            estimated_value=Decimal(fields.pop("value", "1000.00")),
            currency=fields.pop("currency", "USD"),
            expected_close_date=fields.pop("expected", today + timedelta(days=60)),
            status=status,
            submitted_at=submitted,
            decided_at=None if status in DealRegistration.PENDING else decided,
            sla_met=None if status in DealRegistration.PENDING else fields.pop("sla_met", True),
            **fields,
        )


def won(world, *, days_ago, amount, **fields):
    tenant = world.tenant
    close = tenant.local_today() - timedelta(days=days_ago)
    return registration(
        world,
        days_ago=days_ago + 20,
        status=fields.pop("status", Status.WON),
        won_amount=Decimal(amount),
        won_currency=fields.pop("won_currency", tenant.base_currency),
        won_close_date=close,
        outcome_recorded_at=datetime.combine(close, time(15), tzinfo=ZoneInfo(tenant.timezone)),
        **fields,
    )


def seed(world):
    """Figures in the quarter to date and in the quarter before."""
    tenant = world.tenant
    today = tenant.local_today()
    days_in = (today - today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)).days
    now, before = max(days_in // 2, 1), days_in + 30
    registration(world, days_ago=now, value="25000.00")
    registration(world, days_ago=now, value="5000.50", partner=world.other_partner)
    registration(world, days_ago=now, value="7000.00", status=Status.SUBMITTED)
    registration(world, days_ago=now, value="3000.00", status=Status.REJECTED, sla_met=False)
    registration(world, days_ago=before, value="9000.00", expected=today - timedelta(days=40))
    won(world, days_ago=now, amount="12000.00")
    won(world, days_ago=now, amount="4000.00", partner=world.other_partner)
    won(world, days_ago=now, amount="800.00", won_currency="EUR")  # other currency: left out
    won(world, days_ago=now, amount="6000.00", status=Status.REVERSED)
    won(world, days_ago=before, amount="20000.00")
    with world.scope():
        lost = registration(world, days_ago=now, status=Status.LOST)
        DealRegistration.objects.filter(pk=lost.pk).update(
            outcome_recorded_at=lost.decided_at + timedelta(hours=2)
        )
    rollups.rebuild(tenant)
