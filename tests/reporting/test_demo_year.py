"""The demo's year (``manage.py seed_demo``): every figure the apps declare
has a value in each of the last four quarters, the story's trends and quiet
partners are there, and the past is dated and its work done. On a fixed
day: the story is told relative to today."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Max

from dealreg.models import DealRegistration
from incentives.models import PayoutRun
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.demo import HISTORY_DAYS, tenant_context
from prm.tenancy.models import AuditEntry, Notification, OutboxMessage
from reporting.models import AtRiskEpisode

DAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
STEPS = ("partners", "dealreg", "incentives", "mdf", "onboarding", "reporting", "program")


@pytest.fixture
def year(acme):
    """acme with the demo's steps run on DAY, with a third of the year's
    history (the whole of it takes a minute)."""
    with time_machine.travel(DAY), acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.35)
        for label, step in registry.demo_steps():
            if label in STEPS:
                step(ctx)
        yield acme, ctx


def quarters(today: date) -> list[Period]:
    """The last four calendar quarters, the current one (to date) last."""
    found = []
    start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    for _ in range(4):
        end = date(start.year + start.month // 10, (start.month + 2) % 12 + 1, 1)
        found.append(Period(start, min(end - timedelta(days=1), today)))
        start = date(start.year - (start.month == 1), (start.month - 4) % 12 + 1, 1)
    return found[::-1]


def halves(today: date) -> list[Period]:
    """The year's first and second halves."""
    middle = today - timedelta(days=HISTORY_DAYS // 2)
    return [Period(today - timedelta(days=HISTORY_DAYS - 1), middle), Period(middle, today)]


def figures(world, key: str, periods: Callable[[date], list[Period]] = quarters) -> list:
    metric = registry.metrics()[key]
    with world.scope():
        return [
            metric.compute(world.tenant, period, NO_FILTERS)
            for period in periods(world.tenant.local_today())
        ]


@pytest.mark.django_db
def test_the_demo_year(year):
    """One test (seeding takes half a minute): every figure has a value in
    each quarter, the year tells its story, quiet partners are quiet, and
    the past is dated and its work done."""
    world, ctx = year
    empty = {
        key: values
        for key in registry.metrics()
        if None in (values := figures(world, key)) or not any(values)
    }
    assert not empty
    # The program grows: more active partners, signing in, registering and winning deals.
    active = figures(world, "partners.active")
    assert active == sorted(active) and active[0] < active[-1]
    adoption = figures(world, "partners.system_adoption")
    assert adoption[-1] > max(adoption[:-1])
    submitted = figures(world, "dealreg.submitted", halves)
    assert submitted[0] < submitted[1]
    revenue = figures(world, "dealreg.partner_sourced_revenue", halves)
    assert revenue[0] < revenue[1]
    # Decisions and payments come sooner as the year goes on.
    sla = figures(world, "dealreg.sla_compliance", halves)
    assert sla[0] < sla[1]
    with world.scope():
        runs = PayoutRun.objects.filter(status=PayoutRun.Status.PAID).order_by("cutoff")
        waits = [(run.paid_at.date() - run.cutoff).days for run in runs]
    assert len(waits) >= 10 and waits[0] > waits[-1] + 7

    # Partners that went quiet registered nothing for two months...
    with time_machine.travel(DAY), world.scope():
        today = world.tenant.local_today()
        stories = ctx.objects["partners.stories"]
        quiet = [pk for pk, story in stories.items() if story.quiet_since]
        assert len(quiet) == 3
        for pk in quiet:
            registrations = DealRegistration.objects.filter(partner_id=pk)
            last = registrations.aggregate(last=Max("submitted_at"))["last"]
            assert last is not None  # they were registering deals before
            assert world.tenant.local_today(last) < today - timedelta(days=60)
            assert not registrations.filter(status=DealRegistration.Status.APPROVED).exists()
        # ... and are on the at-risk list.
        at_risk = AtRiskEpisode.objects.filter(closed_on__isnull=True).values_list("partner_id")
        assert set(quiet) <= {pk for (pk,) in at_risk}

        # The past's work is done: only today's registrations leave work for
        # the worker; its notifications are dated then and were read.
        start = DAY - timedelta(days=HISTORY_DAYS)
        assert not OutboxMessage.objects.filter(
            done_at__isnull=True, created_at__lt=DAY - timedelta(days=1)
        ).exists()
        assert Notification.objects.filter(created_at__lt=start).exists()
        assert not Notification.objects.filter(
            read_at__isnull=True, task="", created_at__lt=DAY - timedelta(days=4)
        ).exists()
        assert AuditEntry.objects.filter(created_at__lt=start).exists()
        months = {
            (moment.year, moment.month)
            for moment in DealRegistration.objects.values_list("submitted_at", flat=True)
            if moment is not None
        }
        assert len(months) >= 13
    call_command("check_ledger")
