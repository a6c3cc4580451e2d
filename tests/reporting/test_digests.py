"""Digest mails (reporting.digests): sent by the hourly sweep once the
tenant's local send moment has passed, exactly once per person and period,
only to those who want them, each organisation's figures to its own admins.

The story (acme in New York, globex in Tokyo), won deals by close date:

    acme's partner          1,000.00  1 Dec     (accrues 100.00 on 1 Dec)
    acme's other partner    2,500.00  3 Dec
    acme's partner            500.00  25 Nov    (accrues 50.00 on 25 Nov)
    acme's other partner   10,000.00  15 Oct
    acme's partner            250.00  20 Dec    (accrues 25.00 on 20 Dec)
    globex's partner       77,777.00  2 Dec

The weekly digest of Monday 7 Dec 2026 (07:00 in New York) covers 30 Nov to
6 Dec: revenue 3,500.00 against 500.00 the week before (+600%), 14,000.00
in the quarter to date (1 Oct to 6 Dec). The monthly digest of 1 Jan 2027
covers December: acme's partner won 1,250.00 (500.00 in the 31 days
before, +150%) and earned 125.00; 175.00 is payable. The figures are the
dashboards' (reporting.figures, on the rollups, rebuilt once the story is
told).
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django_scopes import scopes_disabled

from incentives import ledger
from incentives.models import IncentiveSettings
from prm.tenancy import account, registry
from prm.tenancy.declarations import Period
from prm.tenancy.models import Membership, OutboxMessage, Tenant
from prm.tenancy.roles import Role
from reporting import digests, rollups, tasks
from reporting.models import DigestSent
from tests import factories
from tests.concurrency import run_together, values
from tests.incentives.conftest import make_plan, make_won_deal

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
WEEK = Period(date(2026, 11, 30), date(2026, 12, 6))
DECEMBER = Period(date(2026, 12, 1), date(2026, 12, 31))


def ny(year, month, day, hour, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=NY)


MONDAY_BEFORE_SEVEN = ny(2026, 12, 7, 6, 59)
MONDAY_AT_SEVEN = ny(2026, 12, 7, 7, 0)
NEW_YEAR_AT_SEVEN = ny(2027, 1, 1, 7, 5)


def move(world, zone):
    Tenant.objects.filter(pk=world.tenant.pk).update(timezone=zone)
    world.tenant.refresh_from_db()


def won(world, amount, close, *, partner=None, accrue_at=None):
    deal = make_won_deal(world, amount, close_date=close, partner=partner)
    if accrue_at is not None:
        with time_machine.travel(accrue_at, tick=False):
            ledger.sync_deal(deal)
    return deal


@pytest.fixture
def story(acme, globex):
    move(acme, "America/New_York")
    move(globex, "Asia/Tokyo")
    with acme.scope():
        IncentiveSettings.objects.create(
            tenant=acme.tenant, holding_days=0, minimum_payout=Decimal(0)
        )
        make_plan(acme, rate_percent=Decimal("10"))
        won(acme, "1000.00", date(2026, 12, 1), accrue_at=datetime(2026, 12, 1, 15, tzinfo=UTC))
        won(acme, "2500.00", date(2026, 12, 3), partner=acme.other_partner)
        won(acme, "500.00", date(2026, 11, 25), accrue_at=datetime(2026, 11, 25, 15, tzinfo=UTC))
        won(acme, "10000.00", date(2026, 10, 15), partner=acme.other_partner)
        won(acme, "250.00", date(2026, 12, 20), accrue_at=datetime(2026, 12, 20, 15, tzinfo=UTC))
    with globex.scope():
        won(globex, "77777.00", date(2026, 12, 2))
    for world in (acme, globex):
        with world.scope():
            rollups.rebuild(world.tenant)
    mail.outbox.clear()
    return acme


def sweep(at, capture):
    """The beat's hourly run at ``at``, with what it queues run by a worker."""
    with time_machine.travel(at, tick=False), capture(execute=True):
        return tasks.send_due_digests()


def mails_to(membership):
    return [m for m in mail.outbox if m.to == [membership.user.email]]


def html_of(message):
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def switch_off(world, membership, kind):
    with world.scope():
        wanted = [s.key for s in account.mail_switches(membership) if s.key != kind]
        account.set_mail_preferences(membership, wanted=wanted)


# --- When -----------------------------------------------------------------------------


class TestSchedule:
    def test_weekly_at_seven_on_monday_local_time_for_two_days(self, acme):
        move(acme, "America/New_York")
        tenant = acme.tenant
        assert digests.due(tenant, digests.WEEKLY, MONDAY_BEFORE_SEVEN) is None
        found = digests.due(tenant, digests.WEEKLY, MONDAY_AT_SEVEN)
        assert found.period == WEEK
        assert found.moment == MONDAY_AT_SEVEN
        # 07:00 in New York is 12:00 UTC: not yet at 11:59 UTC.
        assert (
            digests.due(tenant, digests.WEEKLY, datetime(2026, 12, 7, 11, 59, tzinfo=UTC)) is None
        )
        assert digests.due(tenant, digests.WEEKLY, ny(2026, 12, 9, 6, 59)).period == WEEK
        assert digests.due(tenant, digests.WEEKLY, ny(2026, 12, 9, 7, 0)) is None
        assert digests.due(tenant, digests.WEEKLY, ny(2026, 12, 6, 23, 0)) is None

    def test_monthly_at_seven_on_the_first(self, acme):
        move(acme, "America/New_York")
        tenant = acme.tenant
        assert digests.due(tenant, digests.MONTHLY, ny(2027, 1, 1, 6, 59)) is None
        found = digests.due(tenant, digests.MONTHLY, ny(2027, 1, 1, 7, 0))
        assert found.period == DECEMBER
        assert digests.due(tenant, digests.MONTHLY, ny(2027, 3, 1, 9)).period == Period(
            date(2027, 2, 1), date(2027, 2, 28)
        )

    def test_one_hourly_beat_entry_runs_the_sweep(self):
        from prm.celery import app

        entry = registry.beat_schedule()["reporting-digests"]
        assert entry == {"task": "reporting.tasks.send_due_digests", "schedule": 3600.0}
        assert entry["task"] in app.tasks
        assert digests.SEND_DIGEST in app.tasks

    def test_the_quarter_to_date_is_on_the_fiscal_calendar(self, acme):
        tenant = acme.tenant
        assert digests.quarter_to_date(tenant, date(2026, 12, 6)) == Period(
            date(2026, 10, 1), date(2026, 12, 6)
        )
        tenant.fiscal_year_start = 2  # quarters from February, May, August, November
        assert digests.quarter_to_date(tenant, date(2026, 12, 6)).start == date(2026, 11, 1)
        assert digests.quarter_to_date(tenant, date(2027, 1, 31)).start == date(2026, 11, 1)
        tenant.fiscal_year_start = 4
        assert digests.quarter_to_date(tenant, date(2027, 3, 31)).start == date(2027, 1, 1)


# --- The weekly digest ------------------------------------------------------------------


class TestWeekly:
    def test_sent_at_seven_local_time_not_before_and_once(
        self, story, globex, django_capture_on_commit_callbacks
    ):
        executive = story[Role.EXECUTIVE]
        capture = django_capture_on_commit_callbacks
        # 06:59 in New York is 20:59 in Tokyo: globex's digest goes, acme's waits.
        sweep(MONDAY_BEFORE_SEVEN, capture)
        assert mails_to(executive) == []
        assert len(mails_to(globex[Role.EXECUTIVE])) == 1
        sweep(MONDAY_AT_SEVEN, capture)
        assert len(mails_to(executive)) == 1
        sweep(ny(2026, 12, 7, 8), capture)
        sweep(ny(2026, 12, 8, 8), capture)
        assert len(mails_to(executive)) == 1
        assert len(mails_to(globex[Role.EXECUTIVE])) == 1
        with story.scope():
            digest = DigestSent.objects.get(membership=executive)
        assert (digest.kind, digest.period_start, digest.period_end) == (
            "weekly",
            WEEK.start,
            WEEK.end,
        )
        assert digest.sent_at == MONDAY_AT_SEVEN
        # Only executives get it.
        assert {tuple(m.to) for m in mail.outbox} == {
            (executive.user.email,),
            (globex[Role.EXECUTIVE].user.email,),
        }

    def test_the_mail_has_the_figures_and_the_dashboards_link(
        self, story, django_capture_on_commit_callbacks
    ):
        sweep(MONDAY_AT_SEVEN, django_capture_on_commit_callbacks)
        [message] = mails_to(story[Role.EXECUTIVE])
        assert message.subject == (
            "[Acme Corp] The partner program's week: 30 Nov 2026 to 6 Dec 2026"
        )
        text = message.body
        assert (
            "Partner-sourced revenue\n  This week: 3,500.00 USD (before: 500.00 USD, +600.0%)\n"
            "  Quarter to date: 14,000.00 USD\n"
        ) in text
        assert "compared with the week before (23 Nov 2026 to 29 Nov 2026)" in text
        assert "quarter to date (1 Oct 2026 to 6 Dec 2026)" in text
        assert "77,777" not in text  # globex's figures stay in globex
        link = story.tenant.absolute_url(
            reverse("reporting:executive") + "?period=custom&from=2026-11-30&to=2026-12-06"
        )
        assert link in text
        assert story.tenant.absolute_url("/account/mails/") in text
        html = html_of(message)
        assert "3,500.00 USD" in html and "14,000.00 USD" in html and "+600.0%" in html
        assert f'href="{link.replace("&", "&amp;")}"' in html
        assert "#166534" in html  # revenue rose: good news, in the ok colour

    def test_a_retry_of_the_mail_task_sends_nothing(
        self, story, django_capture_on_commit_callbacks
    ):
        sweep(MONDAY_AT_SEVEN, django_capture_on_commit_callbacks)
        with story.scope():
            digest = DigestSent.objects.get(membership=story[Role.EXECUTIVE])
            message = OutboxMessage.objects.get(task=digests.SEND_DIGEST)
        assert message.done_at is not None
        again = tasks.send_digest(tenant_id=str(story.tenant.pk), digest_id=str(digest.pk))
        assert again is False
        assert len(mails_to(story[Role.EXECUTIVE])) == 1

    def test_switched_off_is_not_sent_and_colleagues_still_get_it(
        self, story, django_capture_on_commit_callbacks
    ):
        me, colleague = story[Role.EXECUTIVE], story.second(Role.EXECUTIVE)
        switch_off(story, me, digests.WEEKLY_KIND)
        sweep(MONDAY_AT_SEVEN, django_capture_on_commit_callbacks)
        assert mails_to(me) == []
        assert len(mails_to(colleague)) == 1
        with story.scope():
            assert not DigestSent.objects.filter(membership=me).exists()

    def test_switched_off_after_the_claim_is_skipped(self, story):
        me = story[Role.EXECUTIVE]
        with time_machine.travel(MONDAY_AT_SEVEN, tick=False), story.scope():
            assert digests.queue_due(story.tenant) == 1  # the mail is not run (no commit)
            digest = DigestSent.objects.get(membership=me)
        switch_off(story, me, digests.WEEKLY_KIND)
        with story.scope():
            assert digests.send(str(digest.pk)) is False
            digest.refresh_from_db()
        assert digest.skipped == "The person switched this digest off."
        assert digest.sent_at is None
        assert mail.outbox == []

    def test_former_and_new_members_get_none(self, story, django_capture_on_commit_callbacks):
        with story.scope():
            Membership.objects.filter(pk=story[Role.EXECUTIVE].pk).update(is_active=False)
        with time_machine.travel(ny(2026, 12, 7, 9), tick=False), story.scope():
            newcomer = factories.make_member(story.tenant, Role.EXECUTIVE, email="new@acme.test")
        sweep(ny(2026, 12, 7, 10), django_capture_on_commit_callbacks)
        assert mails_to(story[Role.EXECUTIVE]) == []
        assert mails_to(newcomer) == []
        with story.scope():
            assert not DigestSent.objects.exists()

    def test_another_tenant_is_untouched(self, story, globex, django_capture_on_commit_callbacks):
        move(globex, "Pacific/Honolulu")  # 02:00 on Monday there
        sweep(MONDAY_AT_SEVEN, django_capture_on_commit_callbacks)
        with scopes_disabled():
            assert not DigestSent.objects.filter(tenant=globex.tenant).exists()
            assert DigestSent.objects.filter(tenant=story.tenant).count() == 1
        assert mails_to(globex[Role.EXECUTIVE]) == []


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_claim_and_mail_each_digest_once(acme):
    move(acme, "America/New_York")
    with acme.scope():
        acme.second(Role.EXECUTIVE)
    mail.outbox.clear()

    def queue():
        with time_machine.travel(MONDAY_AT_SEVEN, tick=False):
            return digests.queue_due(acme.tenant)

    queued = values(run_together(acme, *[queue] * 4))
    assert sum(queued) == 2
    with acme.scope():
        assert DigestSent.objects.count() == 2
        assert OutboxMessage.objects.filter(task=digests.SEND_DIGEST).count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [acme[Role.EXECUTIVE].user.email, acme.second(Role.EXECUTIVE).user.email]
    )


# --- The monthly digest -----------------------------------------------------------------


class TestMonthly:
    def test_partner_admins_get_their_own_organisations_figures(
        self, story, django_capture_on_commit_callbacks
    ):
        with story.scope():
            rival = factories.make_member(
                story.tenant,
                Role.PARTNER_ADMIN,
                partner=story.other_partner,
                email="admin@two.acme.test",
            )
        sweep(ny(2027, 1, 1, 6, 59), django_capture_on_commit_callbacks)
        assert mails_to(story[Role.PARTNER_ADMIN]) == mails_to(rival) == []
        sweep(NEW_YEAR_AT_SEVEN, django_capture_on_commit_callbacks)
        [mine] = mails_to(story[Role.PARTNER_ADMIN])
        [theirs] = mails_to(rival)
        assert mails_to(story[Role.PARTNER_USER]) == []
        assert mine.subject == "[Acme Corp] Acme Reseller One in December 2026"
        text = mine.body
        assert (
            "Partner-sourced revenue\n  This month: 1,250.00 USD (before: 500.00 USD, +150.0%)\n"
        ) in text
        assert "Incentives accrued\n  This month: 125.00 USD (before: 50.00 USD, +150.0%)\n" in text
        assert "Incentives paid\n  This month: 0.00 USD (before: 0.00 USD, no change)\n" in text
        assert "Payable now\n  Now: 175.00 USD\n" in text  # as it stands, no "before"
        assert "2,500" not in text and "10,000" not in text  # the other organisation's
        link = story.tenant.absolute_url(
            reverse("reporting:partner") + "?period=custom&from=2026-12-01&to=2026-12-31"
        )
        assert link in text
        assert "1,250.00 USD" in html_of(mine)
        assert theirs.subject == "[Acme Corp] Acme Distributor Two in December 2026"
        assert (
            "Partner-sourced revenue\n  This month: 2,500.00 USD (before: 0.00 USD, new)\n"
        ) in theirs.body
        assert "1,250" not in theirs.body
        with story.scope():
            assert {d.partner_id for d in DigestSent.objects.all()} == {
                story.partner.pk,
                story.other_partner.pk,
            }

    def test_the_weekly_and_monthly_switches_are_separate(
        self, story, django_capture_on_commit_callbacks
    ):
        admin = story[Role.PARTNER_ADMIN]
        with story.scope():
            keys = {s.key for s in account.mail_switches(admin)}
            exec_keys = {s.key for s in account.mail_switches(story[Role.EXECUTIVE])}
        assert digests.MONTHLY_KIND in keys and digests.WEEKLY_KIND not in keys
        assert digests.WEEKLY_KIND in exec_keys and digests.MONTHLY_KIND not in exec_keys
        switch_off(story, admin, digests.MONTHLY_KIND)
        sweep(NEW_YEAR_AT_SEVEN, django_capture_on_commit_callbacks)
        assert mails_to(admin) == []

    def test_an_admin_moved_to_another_organisation_is_skipped(self, story):
        admin = story[Role.PARTNER_ADMIN]
        with time_machine.travel(NEW_YEAR_AT_SEVEN, tick=False), story.scope():
            digests.queue_due(story.tenant)
            digest = DigestSent.objects.get(membership=admin)
            Membership.objects.filter(pk=admin.pk).update(partner=story.other_partner)
            assert digests.send(str(digest.pk)) is False
            digest.refresh_from_db()
        assert digest.skipped == "The person moved to another organisation."
        assert mail.outbox == []


class TestDashboardUrl:
    def test_the_dashboard_with_the_digests_period(self, acme):
        url = digests.dashboard_url(acme.tenant, "weekly", WEEK)
        parts = urlsplit(url)
        assert url.startswith(acme.tenant.absolute_url("/"))
        assert parts.path == reverse("reporting:executive")
        assert parse_qs(parts.query) == {
            "period": ["custom"],
            "from": ["2026-11-30"],
            "to": ["2026-12-06"],
        }
        monthly = urlsplit(digests.dashboard_url(acme.tenant, "monthly", DECEMBER))
        assert monthly.path == reverse("reporting:partner")
        assert parse_qs(monthly.query)["to"] == ["2026-12-31"]
