"""The ledger's and the accrual states' references to tenant data, checked
once per statement by the database (migration 0004) instead of by per-row
foreign keys: what they point at must exist in the same tenant, and cannot
be deleted or moved while pointed at, also when the two race."""

import threading
import time
import uuid
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, NotSupportedError, connection, transaction
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from incentives import ledger
from incentives.models import DealAccrualState, LedgerEntry

from .conftest import make_plan, make_won_deal

CLOSED = date.today() - timedelta(days=3)


def _accrued(world):
    """A won deal of ``world`` with its accrual entry."""
    make_plan(world)
    deal = make_won_deal(world, "100", close_date=CLOSED)
    (entry,) = ledger.sync_deal(deal)
    return deal, entry


def _insert_like(entry, **changes) -> LedgerEntry:
    """A copy of ``entry`` under a new idempotency key, with ``changes``."""
    values = {
        f.attname: getattr(entry, f.attname)
        for f in LedgerEntry._meta.concrete_fields
        if f.attname != "id"
    }
    values.update(idempotency_key=f"test:{uuid.uuid4()}", **changes)
    return LedgerEntry.objects.create(**values)


def _run_sql(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "column", ["partner_id", "registration_id", "plan_version_id", "reverses_id"]
)
def test_an_entry_may_point_only_at_rows_of_its_own_tenant(acme, globex, column):
    with globex.scope():
        _foreign_deal, foreign = _accrued(globex)
    with acme.scope():
        _deal, entry = _accrued(acme)
        before = LedgerEntry.objects.count()
        for target in (getattr(foreign, column.replace("reverses_id", "id")), uuid.uuid4()):
            with (
                pytest.raises(IntegrityError, match="does not exist in tenant") as refused,
                transaction.atomic(),
            ):
                _insert_like(entry, **{column: target})
            assert str(target) in str(refused.value)
            assert column in str(refused.value)
        assert LedgerEntry.objects.count() == before
        # The same insert pointing at acme's own rows is accepted.
        own = _insert_like(entry, **{column: getattr(entry, column.replace("reverses_id", "id"))})
        assert LedgerEntry.objects.count() == before + 1
        assert own.pk


def test_an_accrual_state_may_point_only_at_its_own_tenants_deals(acme, globex):
    with globex.scope():
        foreign = make_won_deal(globex, "100", close_date=CLOSED)
    with (
        acme.scope(),
        pytest.raises(
            IntegrityError, match=r"registration_id refers to .* does not exist in tenant"
        ),
        transaction.atomic(),
    ):
        DealAccrualState.objects.create(tenant=acme.tenant, registration_id=foreign.pk)
    with scopes_disabled():
        assert not DealAccrualState.objects.filter(registration=foreign).exists()


def test_what_the_ledger_points_at_cannot_be_deleted_or_moved(acme, globex):
    """Raw SQL, past Django's PROTECT: the database refuses on its own."""
    with acme.scope():
        deal, entry = _accrued(acme)
        unreferenced = make_won_deal(acme, "100", close_date=CLOSED)
        refused = [
            ("DELETE FROM dealreg_dealregistration WHERE id = %s", [deal.pk]),
            ("DELETE FROM partners_partner WHERE id = %s", [entry.partner_id]),
            (
                "UPDATE dealreg_dealregistration SET tenant_id = %s WHERE id = %s",
                [globex.tenant.pk, deal.pk],
            ),
            (
                "UPDATE partners_partner SET tenant_id = %s WHERE id = %s",
                [globex.tenant.pk, entry.partner_id],
            ),
        ]
        for sql, params in refused:
            with pytest.raises(IntegrityError, match="is still referenced from"):
                _run_sql(sql, params)
        assert DealRegistration.objects.filter(pk=deal.pk, tenant=acme.tenant).exists()
        # A deal nothing points at can still be moved and deleted.
        _run_sql(
            "UPDATE dealreg_dealregistration SET code = 'X-1' WHERE id = %s", [unreferenced.pk]
        )
        _run_sql(
            "DELETE FROM dealreg_dealregistration_product_lines WHERE dealregistration_id = %s",
            [unreferenced.pk],
        )
        _run_sql("DELETE FROM dealreg_dealregistration WHERE id = %s", [unreferenced.pk])
        assert not DealRegistration.objects.filter(pk=unreferenced.pk).exists()


def test_a_deal_with_only_an_accrual_state_cannot_be_deleted(acme):
    with acme.scope():
        deal = make_won_deal(acme, "100", close_date=CLOSED)
        ledger.sync_deal(deal)  # no plan: no entry, but the deal is marked synced
        assert DealAccrualState.objects.filter(registration=deal).exists()
        assert not LedgerEntry.objects.exists()
        with pytest.raises(IntegrityError, match=r"incentives_dealaccrualstate\.registration_id"):
            _run_sql("DELETE FROM dealreg_dealregistration WHERE id = %s", [deal.pk])


@pytest.mark.django_db(transaction=True)
def test_references_are_checked_at_read_committed_only(acme):
    with acme.scope():
        _deal, entry = _accrued(acme)
        for sql in (None, "DELETE FROM dealreg_dealregistration WHERE id = %s"):
            with (
                pytest.raises(NotSupportedError, match="READ COMMITTED only, not REPEATABLE"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                if sql is None:
                    _insert_like(entry)
                else:
                    cursor.execute(sql, [entry.registration_id])


# --- Races: a reference and a delete of what it points at, on two connections.

HOLD = 1.0  # seconds the first transaction stays open after its write


def _race(world, first, second):
    """Run ``first`` in a transaction that stays open ``HOLD`` seconds after
    it wrote, and ``second`` on another connection once ``first`` wrote;
    return (first's outcome, second's outcome, seconds ``second`` took)."""
    wrote = threading.Event()
    outcomes: dict = {}

    def run(name, call, before=None, after=None):
        try:
            if before is not None:
                assert before.wait(30), "the first transaction never wrote"
            started = time.monotonic()
            with world.scope(), transaction.atomic():
                call()
                if after is not None:
                    after.set()
                    time.sleep(HOLD)
            outcomes[name] = ("ok", time.monotonic() - started)
        except Exception as error:
            outcomes[name] = (error, time.monotonic() - started)
        finally:
            wrote.set()  # never leave the other thread waiting
            connection.close()

    threads = [
        threading.Thread(target=run, args=("first", first, None, wrote)),
        threading.Thread(target=run, args=("second", second, wrote, None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a transaction hung"
    return outcomes["first"][0], *outcomes["second"]


def _delete(registration_id):
    def call():
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM dealreg_dealregistration_product_lines WHERE dealregistration_id = %s",
                [registration_id],
            )
            cursor.execute("DELETE FROM dealreg_dealregistration WHERE id = %s", [registration_id])

    return call


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delete_first", [False, True], ids=["reference-first", "delete-first"])
def test_the_second_of_a_reference_and_a_delete_waits_and_is_refused(acme, delete_first):
    """Whichever commits first wins; the other waits for it, then sees it."""
    with acme.scope():
        _deal, entry = _accrued(acme)
        target = make_won_deal(acme, "200", close_date=CLOSED)

    def insert():
        _insert_like(entry, registration_id=target.pk)

    calls = (_delete(target.pk), insert) if delete_first else (insert, _delete(target.pk))
    first, second, waited = _race(acme, *calls)
    assert first == "ok"
    assert isinstance(second, IntegrityError), second
    refusal = "registration_id refers to" if delete_first else "is still referenced"
    assert refusal in str(second)
    assert waited >= HOLD * 0.8, "the second transaction did not wait for the first to commit"
    with acme.scope():
        assert DealRegistration.objects.filter(pk=target.pk).exists() is not delete_first
        expected = 0 if delete_first else 1
        assert LedgerEntry.objects.filter(registration_id=target.pk).count() == expected
