"""Statements: the arithmetic of a period, the periods a partner has,
issuing statements once a period has ended, and the period close (which
also accrues rebates)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from dealreg.models import DealRegistration
from incentives import ledger, statement_tasks, statements
from incentives.ledger import IncentiveError
from incentives.models import (
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
    Statement,
)
from incentives.periods import Period

from .conftest import make_plan, make_won_deal

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source
D = Decimal


def at(year, month, day, hour=12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def book(world, when: datetime, kind: str, amount: str, currency="USD", rate="1", partner=None):
    """An entry of ``kind`` written at ``when`` (so booked in that period)."""
    today = when.date()
    source = {Kind.PAYOUT: Source.PAYOUT_RUN}.get(kind, Source.MANUAL)
    book.seq += 1
    return ledger.write(
        world.tenant,
        ledger.NewEntry(
            partner_id=(partner or world.partner).pk,
            kind=kind,
            amount=D(amount),
            currency=currency,
            fx_rate=D(rate),
            source=source,
            effective_date=today,
            available_on=today,
            description=f"{kind} {amount} {currency}",
            idempotency_key=f"test:{book.seq}",
            created_via="tests",
        ),
        now=when,
    )


book.seq = 0


def history(world):
    """January: 100 USD accrued. February: 50 EUR accrued at 1.1 (55 USD),
    10 USD adjusted down, 20 EUR clawed back (22 USD), 100 USD paid out.
    April: 30 USD accrued."""
    book(world, at(2026, 1, 10), Kind.ACCRUAL, "100.00")
    book(world, at(2026, 2, 3), Kind.ACCRUAL, "50.00", "EUR", "1.1")
    book(world, at(2026, 2, 9), Kind.ADJUSTMENT, "-10.00")
    book(world, at(2026, 2, 17), Kind.CLAWBACK, "-20.00", "EUR", "1.1")
    book(world, at(2026, 2, 28, 23), Kind.PAYOUT, "-100.00")
    book(world, at(2026, 4, 2), Kind.ACCRUAL, "30.00")


class TestStatementArithmetic:
    def test_a_period_adds_up_in_the_base_currency(self, acme):
        with acme.scope():
            history(acme)
            # Another partner's money is not ours.
            book(acme, at(2026, 2, 5), Kind.ACCRUAL, "999.00", partner=acme.other_partner)
            view = statements.statement(acme.partner, date(2026, 2, 1), now=at(2026, 5, 10))
        assert view.period == Period.MONTH
        assert (view.start, view.end, view.label) == (
            date(2026, 2, 1),
            date(2026, 2, 28),
            "February 2026",
        )
        assert view.currency == "USD"
        assert view.opening == D("100.00")
        assert view.accruals == D("55.00")
        assert view.adjustments == D("-10.00")
        assert view.clawbacks == D("-22.00")
        assert view.payouts == D("-100.00")
        assert view.closing == D("23.00")
        assert view.line_count == 4
        assert view.ended and view.issued is None

    def test_totals_never_mix_currencies(self, acme):
        with acme.scope():
            history(acme)
            view = statements.statement(acme.partner, date(2026, 2, 1), now=at(2026, 5, 10))
            entries = list(statements.lines(acme.partner, date(2026, 2, 1)))
        # Summing the lines' own amounts (EUR and USD together) would say -80.
        assert sum(e.amount for e in entries) == D("-80.00")
        assert view.closing - view.opening == sum(e.amount_base for e in entries) == D("-77.00")

    def test_lines_are_the_periods_entries_in_booking_order(self, acme):
        with acme.scope():
            history(acme)
            entries = list(statements.lines(acme.partner, date(2026, 2, 1)))
        assert [e.created_at.day for e in entries] == [3, 9, 17, 28]
        assert [e.currency for e in entries] == ["EUR", "USD", "EUR", "USD"]

    def test_next_period_opens_with_the_previous_closing(self, acme):
        with acme.scope():
            history(acme)
            march = statements.statement(acme.partner, date(2026, 3, 1), now=at(2026, 5, 10))
            april = statements.statement(acme.partner, date(2026, 4, 1), now=at(2026, 5, 10))
        assert (march.opening, march.line_count, march.closing) == (D("23.00"), 0, D("23.00"))
        assert (april.opening, april.accruals, april.closing) == (
            D("23.00"),
            D("30.00"),
            D("53.00"),
        )

    def test_current_period_is_in_progress(self, acme):
        with acme.scope():
            history(acme)
            view = statements.statement(acme.partner, date(2026, 4, 1), now=at(2026, 4, 20))
        assert not view.ended
        assert view.closing == D("53.00")

    def test_quarterly_statements(self, acme):
        with acme.scope():
            settings_row = IncentiveSettings.for_tenant(acme.tenant)
            settings_row.statement_period = Period.QUARTER
            settings_row.save()
            history(acme)
            q1 = statements.statement(acme.partner, date(2026, 1, 1), now=at(2026, 5, 10))
            lines = statements.lines(acme.partner, date(2026, 1, 1))
            assert lines.count() == 5
        assert (q1.label, q1.end) == ("Q1 2026", date(2026, 3, 31))
        assert (q1.opening, q1.accruals, q1.closing, q1.line_count) == (
            D("0"),
            D("155.00"),
            D("23.00"),
            5,
        )

    def test_periods_with_entries_or_a_balance_newest_first(self, acme):
        with acme.scope():
            history(acme)
            # The other partner ends January at zero and has nothing until April.
            book(acme, at(2026, 1, 5), Kind.ACCRUAL, "10.00", partner=acme.other_partner)
            book(acme, at(2026, 1, 6), Kind.ADJUSTMENT, "-10.00", partner=acme.other_partner)
            book(acme, at(2026, 4, 6), Kind.ACCRUAL, "5.00", partner=acme.other_partner)
            ours = statements.periods_of(acme.partner, now=at(2026, 5, 10))
            theirs = statements.periods_of(acme.other_partner, now=at(2026, 5, 10))
        assert [(p.start.month, p.opening, p.closing, p.line_count) for p in ours] == [
            (5, D("53.00"), D("53.00"), 0),  # current
            (4, D("23.00"), D("53.00"), 1),
            (3, D("23.00"), D("23.00"), 0),  # no entries, but a balance
            (2, D("100.00"), D("23.00"), 4),
            (1, D("0"), D("100.00"), 1),
        ]
        assert ours[0].ended is False and ours[1].ended is True
        assert [p.start.month for p in theirs] == [5, 4, 1]

    def test_a_partner_without_entries_has_the_current_period(self, acme):
        with acme.scope():
            (only,) = statements.periods_of(acme.partner, now=at(2026, 5, 10))
        assert (only.start, only.opening, only.closing, only.line_count) == (
            date(2026, 5, 1),
            D("0"),
            D("0"),
            0,
        )

    def test_parse_period(self, acme):
        now = at(2026, 5, 10)
        with acme.scope():
            assert statements.parse_period(acme.tenant, None, now=now) == date(2026, 5, 1)
            assert statements.parse_period(acme.tenant, "2026-02", now=now) == date(2026, 2, 1)
            assert statements.parse_period(acme.tenant, "2026-02-01", now=now) == date(2026, 2, 1)
            for bad, message in [
                ("2026-02-03", "not the first day"),
                ("2026-13", "not a statement period"),
                ("<script>", "not a statement period"),
                ("2026-06-01", "has not begun"),
            ]:
                with pytest.raises(IncentiveError, match=message):
                    statements.parse_period(acme.tenant, bad, now=now)


class TestIssueStatements:
    def test_issues_each_partner_once(self, acme):
        with acme.scope():
            history(acme)
            book(acme, at(2026, 1, 5), Kind.ACCRUAL, "7.00", partner=acme.other_partner)
            issued = statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1))
            first = {s.partner_id: s for s in Statement.objects.all()}
            again = statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 2))
            second = {s.partner_id: s for s in Statement.objects.all()}
        # The other partner had no entries in February but a balance of 7.
        assert issued == 2 and again == 0
        assert set(first) == {acme.partner.pk, acme.other_partner.pk}
        ours = first[acme.partner.pk]
        assert (ours.opening, ours.accruals, ours.adjustments, ours.clawbacks) == (
            D("100.00"),
            D("55.00"),
            D("-10.00"),
            D("-22.00"),
        )
        assert (ours.payouts, ours.closing, ours.line_count) == (D("-100.00"), D("23.00"), 4)
        assert (ours.period, ours.period_end, ours.currency) == ("month", date(2026, 2, 28), "USD")
        assert ours.issued_at == at(2026, 3, 1)
        assert second[acme.partner.pk].issued_at == ours.issued_at
        theirs = first[acme.other_partner.pk]
        assert (theirs.opening, theirs.closing, theirs.line_count) == (D("7.00"), D("7.00"), 0)

    def test_the_issued_statement_is_shown_with_the_view(self, acme):
        with acme.scope():
            history(acme)
            statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1))
            view = statements.statement(acme.partner, date(2026, 2, 1), now=at(2026, 3, 1))
        assert view.issued is not None and view.issued.closing == view.closing

    def test_partners_with_nothing_get_no_statement(self, acme):
        with acme.scope():
            book(acme, at(2026, 1, 5), Kind.ACCRUAL, "10.00")
            book(acme, at(2026, 1, 6), Kind.ADJUSTMENT, "-10.00")
            assert (
                statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1)) == 0
            )
            assert not Statement.objects.exists()

    def test_refuses_a_period_that_has_not_ended(self, acme):
        with acme.scope():
            history(acme)
            with pytest.raises(IncentiveError, match="has not ended"):
                statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 2, 28, 22))
            with pytest.raises(IncentiveError, match="not the first day"):
                statements.issue_statements(acme.tenant, date(2026, 2, 2), now=at(2026, 3, 5))
            assert not Statement.objects.exists()

    def test_the_period_ends_by_the_tenants_local_date(self, acme):
        acme.tenant.timezone = "America/Los_Angeles"
        acme.tenant.save()
        with acme.scope():
            history(acme)
            # 1 March 05:00 UTC is still 28 February in Los Angeles.
            with pytest.raises(IncentiveError, match="has not ended"):
                statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1, 5))
            assert statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1, 9))

    def test_other_tenants_are_untouched(self, acme, globex):
        with globex.scope():
            book(globex, at(2026, 2, 5), Kind.ACCRUAL, "40.00")
        with acme.scope():
            history(acme)
            statements.issue_statements(acme.tenant, date(2026, 2, 1), now=at(2026, 3, 1))
        with globex.scope():
            assert not Statement.objects.exists()
            assert (
                statements.issue_statements(globex.tenant, date(2026, 2, 1), now=at(2026, 3, 1))
                == 1
            )
            (theirs,) = Statement.objects.all()
        assert theirs.closing == D("40.00") and theirs.tenant == globex.tenant


class TestPeriodClose:
    def test_issues_the_ended_periods_once(self, acme):
        with acme.scope():
            history(acme)
        tenant_id = str(acme.tenant.pk)
        with time_machine.travel(at(2026, 5, 1, 1), tick=False):
            first = statement_tasks.close_periods(tenant_id=tenant_id)
            second = statement_tasks.close_periods(tenant_id=tenant_id)
        with acme.scope():
            starts = sorted(Statement.objects.values_list("period_start", flat=True))
        # March and April: the period that ended most recently and the one before.
        assert first == {"statements": 2, "rebates": 0}
        assert second == {"statements": 0, "rebates": 0}
        assert starts == [date(2026, 3, 1), date(2026, 4, 1)]

    def test_a_missed_run_is_caught_up(self, acme):
        with acme.scope():
            history(acme)
            first = statement_tasks.close_ended_periods(acme.tenant, now=at(2026, 3, 2))
            # No run in April: March is still issued, as the period before April.
            later = statement_tasks.close_ended_periods(acme.tenant, now=at(2026, 5, 2))
            starts = sorted(Statement.objects.values_list("period_start", flat=True))
        assert first["statements"] == 2 and later["statements"] == 2
        assert starts == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]

    def test_dispatch_queues_a_close_per_active_tenant(self, acme, globex, monkeypatch):
        queued = []
        monkeypatch.setattr(
            statement_tasks.close_periods, "delay", lambda **kwargs: queued.append(kwargs)
        )
        globex.tenant.is_active = False
        globex.tenant.save()
        assert statement_tasks.dispatch_period_close() == 1
        assert queued == [{"tenant_id": str(acme.tenant.pk)}]

    def test_rebates_accrue_when_their_period_ends(self, acme):
        with acme.scope():
            version = make_plan(
                acme,
                kind=Plan.Kind.REBATE,
                rate_percent=D("2"),
                period=Period.QUARTER,
                effective_from=date(2026, 1, 1),
            )
            make_won_deal(acme, "10000.00", close_date=date(2026, 2, 10))
            reversed_deal = make_won_deal(acme, "5000.00", close_date=date(2026, 3, 20))
            make_won_deal(acme, "3000.00", close_date=date(2026, 4, 2))  # next quarter
            make_won_deal(acme, "1000.00", close_date=date(2026, 3, 1), partner=acme.other_partner)

            # Still in the quarter: nothing yet.
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 3, 30)) == 0

            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 3)) == 2
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 4)) == 0
            rebates = LedgerEntry.objects.filter(source=Source.REBATE, plan_version=version)
            ours = rebates.get(partner=acme.partner)
            assert (ours.kind, ours.amount, ours.period_start) == (
                Kind.ACCRUAL,
                D("300.00"),  # 2% of 15,000
                date(2026, 1, 1),
            )
            assert ours.statement_start == date(2026, 4, 1)
            assert rebates.get(partner=acme.other_partner).amount == D("20.00")

            # A deal of the quarter is reversed after the rebate: corrected at the next close.
            DealRegistration.objects.filter(pk=reversed_deal.pk).update(
                status=DealRegistration.Status.REVERSED
            )
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 5)) == 1
            correction = rebates.filter(partner=acme.partner).order_by("-created_at").first()
            assert (correction.kind, correction.amount) == (Kind.ADJUSTMENT, D("-100.00"))

    def test_rebates_wait_for_a_missing_rate_and_tell_finance_once(self, acme):
        from prm.tenancy.models import Notification

        with acme.scope():
            make_plan(
                acme,
                kind=Plan.Kind.REBATE,
                rate_percent=D("2"),
                period=Period.QUARTER,
                effective_from=date(2026, 1, 1),
            )
            make_won_deal(acme, "1000.00", currency="GBP", close_date=date(2026, 2, 10))
            make_won_deal(acme, "1000.00", close_date=date(2026, 2, 10), partner=acme.other_partner)
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 3)) == 1
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 3, 13)) == 0
            notes = Notification.objects.filter(kind="incentives.no_rate")
            assert notes.count() == 1
            assert "No GBP exchange rate" in notes.get().body

    def test_retired_versions_and_inactive_plans_accrue_nothing(self, acme):
        with acme.scope():
            version = make_plan(
                acme, kind=Plan.Kind.REBATE, period=Period.QUARTER, effective_from=date(2026, 1, 1)
            )
            Plan.objects.filter(pk=version.plan_id).update(is_active=False)
            other = make_plan(
                acme, kind=Plan.Kind.REBATE, period=Period.QUARTER, effective_from=date(2026, 1, 1)
            )
            PlanVersion.objects.filter(pk=other.pk).update(status=PlanVersion.Status.RETIRED)
            make_won_deal(acme, "1000.00", close_date=date(2026, 2, 10))
            assert statement_tasks.accrue_rebates(acme.tenant, now=at(2026, 4, 3)) == 0
