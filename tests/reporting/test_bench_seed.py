"""The reporting benchmark's seed (``make bench-reporting``) at a tiny size:
its rows load under every constraint of the models they go into, are what
the application would have written (``--check``: accruals against the
independent recomputation, SLA marks against the calendar, every metric
computable; ``check_ledger``: checksums, base amounts, payouts, the
constraints put back), and a seed of the same size is kept."""

import pytest
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from bench.reporting_check import check_seed
from bench.reporting_deals import TABLES as DEAL_TABLES
from bench.reporting_ledger import TABLES as LEDGER_TABLES
from bench.reporting_seed import Seeder, Size
from incentives.models import LedgerEntry
from prm.tenancy.scoping import tenant_scope

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = Size(partners=40, registrations=2000, entries=10_000)


def schema() -> list[tuple[str, str]]:
    """The keys, constraints and indexes of the tables the seed loads
    without them (and of the keys pointing at them)."""
    tables = [*DEAL_TABLES, *LEDGER_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) OR confrelid::regclass::text = ANY(%s) "
            "UNION SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "ORDER BY 1, 2",
            [tables, tables, tables],
        )
        return cursor.fetchall()


def test_the_seed_is_what_the_application_would_have_written():
    messages: list[str] = []
    before = schema()
    with scopes_disabled():
        tenant, figures = Seeder(messages.append).seed(SIZE, fresh=True)
    assert figures["seeded"] and figures["registrations"] == SIZE.registrations
    # The ledger's size follows from the deals: about what was asked.
    assert 0.8 * SIZE.entries <= figures["ledger_entries"] <= 1.2 * SIZE.entries
    with tenant_scope(tenant):
        kinds = set(LedgerEntry.objects.values_list("kind", flat=True).distinct())
        assert kinds == {"accrual", "adjustment", "clawback", "payout"}
        assert check_seed(tenant, messages.append) == []
    call_command("check_ledger", stdout=_Sink())  # raises on any difference
    assert schema() == before  # put back after the load

    with scopes_disabled():
        kept, again = Seeder(messages.append).seed(SIZE)
    assert kept.pk == tenant.pk and not again["seeded"]


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass
