"""Data for the health score and at-risk tests: registrations stored as
they end up, at chosen moments (no workflow), sign-ins, days."""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from dealreg.models import DealRegistration
from prm.tenancy.roles import Role

Status = DealRegistration.Status
_seq = itertools.count(1)

# The day scored in most tests: after the worlds were made (their partners'
# history starts today), so every partner is active on it.
DAY = date(2027, 3, 1)


def at(day: date, hour: int = 12) -> datetime:
    """Noon (UTC, the test tenants' time zone) of ``day``."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def days_before(n: int, day: date = DAY) -> date:
    return day - timedelta(days=n)


def registration(world, *, partner=None, status=Status.APPROVED, value="1000.00", **fields):
    with world.scope():
        return DealRegistration.objects.create(
            tenant=world.tenant,
            partner=partner or world.partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name=f"Health customer {next(_seq)}",
            customer_name_normalized=f"health customer {next(_seq)}",
            customer_country="US",
            estimated_value=Decimal(value),
            currency=fields.pop("currency", "USD"),
            expected_close_date=date(2027, 6, 30),
            status=status,
            **fields,
        )


def approved(world, value, day, **fields):
    """Approved (decided, not rejected) at noon of ``day``."""
    return registration(world, value=value, submitted_at=at(day, 9), decided_at=at(day), **fields)


def submitted(world, day, **fields):
    fields.setdefault("status", Status.SUBMITTED)
    return registration(world, submitted_at=at(day), **fields)


def won(world, close: date, recorded: date | None = None, **fields):
    fields.setdefault("status", Status.WON)
    return registration(
        world,
        won_amount=Decimal("1000.00"),
        won_currency="USD",
        won_close_date=close,
        outcome_recorded_at=at(recorded or close),
        **fields,
    )


def lost(world, recorded: date, **fields):
    return registration(world, status=Status.LOST, outcome_recorded_at=at(recorded), **fields)
