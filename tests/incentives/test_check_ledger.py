"""``manage.py check_ledger``: a clean ledger passes; a changed entry, a
statement that no longer adds up, a payout that does not match what it
settles, a disabled or missing trigger, or a missing, weakened or
unvalidated constraint each fail, named on their own line."""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from incentives import ledger, payouts, statements
from incentives.ledger import NewEntry
from incentives.models import LedgerEntry, PayoutLine, Settlement, Statement
from prm.tenancy.roles import Role

from .conftest import euro_rate_and_plan, make_won_deal
from .test_payouts import book

pytestmark = pytest.mark.django_db

MAY = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def check(*args) -> tuple[int, str]:
    """(exit status, output) of the command."""
    out = StringIO()
    try:
        call_command("check_ledger", *args, stdout=out)
    except CommandError as exc:
        return 1, out.getvalue() + str(exc)
    return 0, out.getvalue()


def untriggered(sql: str, params) -> None:
    """Change the ledger behind the trigger's back, as an attacker with the
    database owner's rights would. (Pending foreign-key checks of the test's
    transaction run first: ALTER TABLE refuses to run before them.)"""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE incentives_ledgerentry DISABLE TRIGGER incentives_ledger_append_only"
        )
        cursor.execute(sql, params)
        cursor.execute(
            "ALTER TABLE incentives_ledgerentry ENABLE TRIGGER incentives_ledger_append_only"
        )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def busy_ledger(acme, globex):
    """Both tenants: deals won in May (one in euros, one refunded), a
    rebate-like manual entry, a paid payout run in June, May statements."""
    with time_machine.travel(MAY, tick=False):
        for world in (acme, globex):
            with world.scope():
                euro_rate_and_plan(world)
                for amount, currency in (("12345.67", "USD"), ("999.99", "EUR")):
                    deal = make_won_deal(
                        world, amount, currency=currency, close_date=date(2026, 4, 1)
                    )
                    ledger.sync_deal(deal)
                refunded = make_won_deal(
                    world, "5000", close_date=date(2026, 4, 20), partner=world.other_partner
                )
                ledger.sync_deal(refunded)
                refunded.status = refunded.Status.REVERSED
                refunded.save()
                ledger.sync_deal(refunded)
                book(world, world.other_partner, "75", available_on=date(2026, 5, 10))
    with time_machine.travel(JUNE, tick=False):
        for world in (acme, globex):
            with world.scope():
                assert statements.issue_statements(world.tenant, date(2026, 5, 1)) == 2
                run = payouts.start_run(world.tenant, by=world[Role.FINANCE], cutoff=JUNE.date())
                run = payouts.approve(payouts.compute_run(run), by=world.second(Role.FINANCE))
                run = payouts.write_payouts(run)
                payouts.mark_paid(run, by=world[Role.FINANCE], reference="B-1")
    return acme, globex


def test_a_clean_ledger_passes(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT).count() == 2
        assert Statement.objects.count() == 2
    status, output = check()
    assert status == 0, output
    assert "2 tenants" in output
    assert "4 statements, 4 payouts" in output
    assert output.strip().endswith("no differences.")


def test_a_changed_entry_fails_naming_it(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        entry = LedgerEntry.objects.filter(
            partner=acme.partner, kind=LedgerEntry.Kind.ACCRUAL
        ).first()
    untriggered("UPDATE incentives_ledgerentry SET amount = amount + 100 WHERE id = %s", [entry.pk])
    status, output = check()
    assert status == 1
    lines = [line for line in output.splitlines() if str(entry.pk) in line]
    assert any("checksum" in line for line in lines), output
    assert all(line.startswith(f"acme\t{acme.partner.name}\t") for line in lines)
    assert "difference" in output
    # The other tenant alone is clean.
    assert check("--tenant", "globex")[0] == 0
    assert check("--tenant", "acme")[0] == 1


def test_a_changed_base_amount_fails_everywhere_it_counts(busy_ledger):
    """amount_base is in the checksum, is no longer the amount at the rate,
    and the statement and the payout that summed it no longer add up."""
    acme, _ = busy_ledger
    with acme.scope():
        entry = LedgerEntry.objects.get(partner=acme.partner, currency="EUR")
        statement = Statement.objects.get(partner=acme.partner)
        payout = LedgerEntry.objects.get(partner=acme.partner, kind=LedgerEntry.Kind.PAYOUT)
    assert entry.amount == Decimal("85.00")  # 8.5% of 999.99 EUR
    untriggered("UPDATE incentives_ledgerentry SET amount_base = 1 WHERE id = %s", [entry.pk])
    status, output = check("--tenant", "acme")
    assert status == 1
    assert f"entry {entry.pk}: checksum" in output
    assert f"entry {entry.pk}: amount_base" in output
    assert "expected 92.11\tfound 1.000" in output  # 85.00 x 1.0837 = 92.1145
    assert f"statement 2026-05-01 ({statement.pk}): accruals" in output
    assert f"payout {payout.pk}: paid vs the entries it settles" in output
    assert "5 differences" in output


def test_an_entry_written_with_a_wrong_base_amount_fails(acme):
    with acme.scope():
        entry = ledger.write(
            acme.tenant,
            NewEntry(
                partner_id=acme.partner.pk,
                kind=LedgerEntry.Kind.ACCRUAL,
                amount=Decimal("100"),
                currency="EUR",
                fx_rate=Decimal("1.1"),
                amount_base=Decimal("200"),
                source=LedgerEntry.Source.MANUAL,
                effective_date=date(2026, 1, 1),
                available_on=date(2026, 1, 1),
                description="Wrong",
                idempotency_key="wrong-base",
                created_via="test",
            ),
        )
    status, output = check()
    assert status == 1
    assert f"entry {entry.pk}: amount_base" in output
    assert "expected 110.00\tfound 200.000" in output
    assert "checksum" not in output  # written so; not changed since


def test_a_statement_that_does_not_add_up_fails(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        statement = Statement.objects.get(partner=acme.partner)
        Statement.objects.filter(pk=statement.pk).update(
            accruals=statement.accruals + 1, closing=statement.closing + 1
        )
    status, output = check()
    assert status == 1
    assert f"statement 2026-05-01 ({statement.pk}): accruals" in output
    assert f"statement 2026-05-01 ({statement.pk}): closing" in output
    assert f"expected {statement.accruals}\tfound {statement.accruals + 1}" in output


def test_a_statement_missing_a_line_fails(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        statement = Statement.objects.get(partner=acme.partner)
        Statement.objects.filter(pk=statement.pk).update(line_count=statement.line_count - 1)
    status, output = check()
    assert status == 1
    assert "line_count" in output


def test_a_payout_without_its_settlements_fails(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        payout = LedgerEntry.objects.get(partner=acme.partner, kind=LedgerEntry.Kind.PAYOUT)
        Settlement.objects.filter(payout=payout).exclude(entry=payout).first().delete()
    status, output = check()
    assert status == 1
    assert f"payout {payout.pk}: paid vs the entries it settles" in output


def test_a_payout_settling_an_entry_after_the_cutoff_fails(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        payout = LedgerEntry.objects.get(partner=acme.partner, kind=LedgerEntry.Kind.PAYOUT)
        late = book(acme, acme.partner, "0", available_on=date(2026, 12, 1))
        Settlement.objects.create(
            tenant=acme.tenant,
            entry=late,
            payout=payout,
            run_id=payout.payout_run_id,
            partner=acme.partner,
        )
    status, output = check()
    assert status == 1
    assert f"entry {late.pk} settled by {payout.pk}" in output
    assert "available on\texpected by the cutoff 2026-06-15\tfound 2026-12-01" in output


def test_a_payout_line_showing_another_amount_fails(busy_ledger):
    acme, _ = busy_ledger
    with acme.scope():
        line = PayoutLine.objects.get(partner=acme.partner)
        PayoutLine.objects.filter(pk=line.pk).update(payable=line.payable + 5)
    status, output = check()
    assert status == 1
    assert "line of payout" in output


def test_a_disabled_trigger_fails(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE incentives_ledgerentry DISABLE TRIGGER incentives_ledger_append_only"
        )
    status, output = check()
    assert status == 1
    assert "trigger incentives_ledger_append_only\texpected enabled\tfound disabled" in output


def _ddl(*statements: str) -> None:
    """Change the schema inside the test's transaction (rolled back after
    it). Pending deferred foreign-key checks run first: ALTER TABLE refuses
    to run before them."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql in statements:
            cursor.execute(sql)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.mark.parametrize(
    ("table", "constraint"),
    [
        ("incentives_ledgerentry", "ledgerentry_registration_tenant_fk"),
        ("incentives_dealaccrualstate", "accrualstate_registration_tenant_fk"),
        ("incentives_ledgerentry", "ledgerentry_idempotency_unique"),
        ("incentives_ledgerentry", "ledgerentry_accrual_not_negative"),
        # Another app's key that the ledger's composite foreign keys refer
        # to: dropped with them (CASCADE), all of them are listed.
        ("partners_partner", "partner_tenant_key"),
    ],
)
def test_a_missing_constraint_fails_naming_it(busy_ledger, table, constraint):
    assert check()[0] == 0
    _ddl(f"ALTER TABLE {table} DROP CONSTRAINT {constraint} CASCADE")
    status, output = check()
    assert status == 1
    assert f"constraint {constraint} on {table}\texpected present\tfound missing" in output
    if constraint == "partner_tenant_key":
        for fk in ("ledgerentry_partner_tenant_fk", "statement_partner_tenant_fk"):
            assert f"constraint {fk} on " in output


def test_a_weakened_foreign_key_fails(busy_ledger):
    """Same name, but only the id is checked (another tenant's row would do)."""
    _ddl(
        "ALTER TABLE incentives_ledgerentry DROP CONSTRAINT ledgerentry_partner_tenant_fk",
        "ALTER TABLE incentives_ledgerentry ADD CONSTRAINT ledgerentry_partner_tenant_fk "
        "FOREIGN KEY (partner_id) REFERENCES partners_partner (id) "
        "DEFERRABLE INITIALLY DEFERRED",
    )
    status, output = check()
    assert status == 1
    assert (
        "constraint ledgerentry_partner_tenant_fk on incentives_ledgerentry\texpected FOREIGN KEY "
        "(tenant_id, partner_id) REFERENCES partners_partner(tenant_id, id) DEFERRABLE "
        "INITIALLY DEFERRED\tfound FOREIGN KEY (partner_id)" in output
    )


def test_a_foreign_key_not_validated_fails(busy_ledger):
    _ddl(
        "ALTER TABLE incentives_settlement DROP CONSTRAINT settlement_entry_tenant_fk",
        "ALTER TABLE incentives_settlement ADD CONSTRAINT settlement_entry_tenant_fk "
        "FOREIGN KEY (tenant_id, entry_id) REFERENCES incentives_ledgerentry (tenant_id, id) "
        "DEFERRABLE INITIALLY DEFERRED NOT VALID",
    )
    status, output = check()
    assert status == 1
    assert "settlement_entry_tenant_fk on incentives_settlement\texpected validated" in output


@pytest.mark.parametrize(
    ("table", "trigger"),
    [
        ("incentives_ledgerentry", "incentives_ledger_append_only"),
        ("incentives_bracket", "incentives_bracket_frozen"),
    ],
)
def test_a_missing_trigger_fails(acme, table, trigger):
    _ddl(f"DROP TRIGGER {trigger} ON {table}")
    status, output = check()
    assert status == 1
    assert f"trigger {trigger} on {table}\texpected present\tfound missing" in output


def test_unknown_tenant_is_an_error(acme):
    with pytest.raises(CommandError, match="No tenant with the slug “nope”"):
        call_command("check_ledger", "--tenant", "nope", stdout=StringIO())
