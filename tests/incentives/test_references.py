"""References between tenant data are composite foreign keys on
``(tenant_id, id)`` (``prm.tenancy.constraints.TenantForeignKey``): the row
pointed at must exist in the same tenant, for every write path, and cannot
be deleted or moved to another tenant while pointed at.

The keys are deferred to commit, as Django's own foreign keys are: a test
forces the check with ``SET CONSTRAINTS ALL IMMEDIATE`` (what a commit
does). Writes go through raw SQL where the point is that the database
refuses on its own, past Django's validation and ``on_delete``."""

import threading
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django_scopes import scopes_disabled

from dealreg.models import Conflict, DealRegistration, RegistrationEvent
from incentives import ledger
from incentives.models import DealAccrualState, Dispute, LedgerEntry, PayoutRun, Plan
from partners.models import Contact, Partner
from prm.tenancy.constraints import TenantForeignKey
from prm.tenancy.models import Membership, TenantOwned
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan, make_won_deal

CLOSED = date.today() - timedelta(days=3)


def _checked() -> None:
    """What a commit does first: run the deferred foreign-key checks."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _refused(constraint: str, write) -> None:
    """``write`` (then the commit-time checks) fails on ``constraint`` and
    leaves nothing behind."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        write()
        _checked()
    _checked()  # what is left of the test's transaction is consistent


def _sql(sql: str, params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _world_with_ledger(world):
    """A won deal with its accrual entry, a payout run and a dispute of
    ``world``: something for each of the ledger's references to point at."""
    make_plan(world, brackets=())
    deal = make_won_deal(world, "100", close_date=CLOSED)
    (entry,) = ledger.sync_deal(deal)
    run = PayoutRun.objects.create(
        tenant=world.tenant,
        reference=f"PR-{uuid.uuid4().hex[:8]}",
        cutoff=CLOSED,
        currency="USD",
        minimum_payout=Decimal("0"),
        created_by=world[Role.FINANCE].user,
    )
    dispute = Dispute.objects.create(
        tenant=world.tenant,
        code=f"D-{uuid.uuid4().hex[:8]}",
        partner=world.partner,
        entry=entry,
        opened_by=world[Role.PARTNER_ADMIN].user,
    )
    return {"deal": deal, "entry": entry, "run": run, "dispute": dispute}


@pytest.fixture
def ledgers(acme, globex):
    with acme.scope():
        own = _world_with_ledger(acme)
    with globex.scope():
        foreign = _world_with_ledger(globex)
    return own, foreign


def _insert_like(entry, **changes) -> LedgerEntry:
    """A copy of ``entry`` under a new idempotency key, with ``changes``."""
    values = {
        f.attname: getattr(entry, f.attname)
        for f in LedgerEntry._meta.concrete_fields
        if f.attname != "id"
    }
    values.update(idempotency_key=f"test:{uuid.uuid4()}", **changes)
    return LedgerEntry.objects.create(**values)


# column -> the key in _world_with_ledger's rows of what it points at
LEDGER_REFERENCES = {
    "partner_id": ("entry", "partner_id"),
    "registration_id": ("deal", "pk"),
    "plan_version_id": ("entry", "plan_version_id"),
    "dispute_id": ("dispute", "pk"),
    "payout_run_id": ("run", "pk"),
    "reverses_id": ("entry", "pk"),
}


@pytest.mark.parametrize("column", sorted(LEDGER_REFERENCES))
def test_an_entry_may_point_only_at_rows_of_its_own_tenant(acme, ledgers, column):
    own, foreign = ledgers
    row, attribute = LEDGER_REFERENCES[column]
    constraint = f"ledgerentry_{column.removesuffix('_id')}_tenant_fk"
    with acme.scope():
        before = LedgerEntry.objects.count()
        for target in (getattr(foreign[row], attribute), uuid.uuid4()):
            _refused(constraint, lambda t=target: _insert_like(own["entry"], **{column: t}))
        assert LedgerEntry.objects.count() == before
        # The same insert pointing at acme's own row is accepted.
        _insert_like(own["entry"], **{column: getattr(own[row], attribute)})
        _checked()
        assert LedgerEntry.objects.count() == before + 1


def test_an_accrual_state_may_point_only_at_its_own_tenants_deals(acme, globex):
    with globex.scope():
        foreign = make_won_deal(globex, "100", close_date=CLOSED)  # no state yet
    with acme.scope():
        for target in (foreign.pk, uuid.uuid4()):
            _refused(
                "accrualstate_registration_tenant_fk",
                lambda t=target: DealAccrualState.objects.create(
                    tenant=acme.tenant, registration_id=t
                ),
            )
    with scopes_disabled():
        assert not DealAccrualState.objects.filter(tenant=acme.tenant).exclude(
            registration__tenant=acme.tenant
        )


def test_an_accrual_state_cannot_be_moved_to_another_tenants_deal(acme, globex, ledgers):
    """An UPDATE is checked as an INSERT is (0004's insert-only statement
    trigger let this through)."""
    own, _ = ledgers
    with globex.scope():
        foreign = {"deal": make_won_deal(globex, "100", close_date=CLOSED)}  # no state yet
    with acme.scope():
        state = DealAccrualState.objects.get(registration=own["deal"])
        sql = "UPDATE incentives_dealaccrualstate SET registration_id = %s WHERE id = %s"
        _refused(
            "accrualstate_registration_tenant_fk",
            lambda: _sql(sql, [foreign["deal"].pk, state.pk]),
        )
        _refused(
            "accrualstate_registration_tenant_fk",
            lambda: DealAccrualState.objects.filter(pk=state.pk).update(
                registration_id=foreign["deal"].pk
            ),
        )
        # Nor the state (with its acme deal) into globex.
        _refused(
            "accrualstate_registration_tenant_fk",
            lambda: _sql(
                "UPDATE incentives_dealaccrualstate SET tenant_id = %s WHERE id = %s",
                [foreign["deal"].tenant_id, state.pk],
            ),
        )
        state.refresh_from_db()
        assert state.registration_id == own["deal"].pk
        # Another deal of acme's is fine.
        other = make_won_deal(acme, "100", close_date=CLOSED)
        _sql(sql, [other.pk, state.pk])
        _checked()


# --- Beyond the ledger: every reference between tenant data --------------------------------


def test_every_reference_between_tenant_data_is_a_composite_key():
    """Each foreign key from a tenant-owned model to another tenant-owned
    model is declared as a TenantForeignKey (and has no single-column key
    of its own): a new model that forgets it fails here."""
    missing = []
    for model in apps.get_models():
        if not any(f.name == "tenant" for f in model._meta.concrete_fields):
            continue
        declared = {c.field for c in model._meta.constraints if isinstance(c, TenantForeignKey)}
        for f in model._meta.concrete_fields:
            target = f.related_model if f.is_relation else None
            if f.name == "tenant" or target is None or not issubclass(target, TenantOwned):
                continue
            if model.__name__.startswith("Historical"):  # simple_history's copies
                continue
            if f.name not in declared or f.db_constraint:
                missing.append(f"{model._meta.label}.{f.name}")
    assert missing == []


def _other_rows(acme, globex):
    """A row of acme for each sampled reference, and what in globex it
    could be pointed at."""
    with acme.scope():
        deal = make_won_deal(acme, "100", close_date=CLOSED)
        other = make_won_deal(acme, "200", close_date=CLOSED)
        version = make_plan(acme, publish=False, brackets=[("0", "1")])
        event = RegistrationEvent.objects.create(
            tenant=acme.tenant, registration=deal, kind=RegistrationEvent.Kind.CREATED
        )
        conflict = Conflict.objects.create(
            tenant=acme.tenant, registration=deal, other_registration=other, score=Decimal("0.5")
        )
    with globex.scope():
        foreign_deal = make_won_deal(globex, "100", close_date=CLOSED)
        foreign_version = make_plan(globex, publish=False)
        foreign_plan = Plan.objects.create(tenant=globex.tenant, name="Empty", kind="commission")
    with scopes_disabled():
        return [
            # (table, column, acme row, globex target, constraint)
            (
                "partners_contact",
                "partner_id",
                Contact.objects.filter(partner=acme.partner).first().pk,
                globex.partner.pk,
                "contact_partner_tenant_fk",
            ),
            (
                "partners_partner",
                "tier_id",
                acme.partner.pk,
                globex.partner.tier_id,
                "partner_tier_tenant_fk",
            ),
            (
                "tenancy_membership",
                "partner_id",
                acme[Role.PARTNER_ADMIN].pk,
                globex.partner.pk,
                "membership_partner_tenant_fk",
            ),
            (
                "dealreg_dealregistration",
                "partner_id",
                deal.pk,
                globex.partner.pk,
                "dealreg_partner_tenant_fk",
            ),
            (
                "dealreg_registrationevent",
                "registration_id",
                event.pk,
                foreign_deal.pk,
                "regevent_registration_tenant_fk",
            ),
            (
                "dealreg_conflict",
                "other_registration_id",
                conflict.pk,
                foreign_deal.pk,
                "conflict_other_registration_tenant_fk",
            ),
            (
                "incentives_planversion",
                "plan_id",
                version.pk,
                foreign_plan.pk,
                "planversion_plan_tenant_fk",
            ),
            (
                "incentives_bracket",
                "version_id",
                version.brackets.get().pk,
                foreign_version.pk,
                "bracket_version_tenant_fk",
            ),
        ]


def test_other_references_refuse_another_tenants_row_and_a_missing_one(acme, globex):
    for table, column, row, target, constraint in _other_rows(acme, globex):
        sql = f"UPDATE {table} SET {column} = %s WHERE id = %s"
        for value in (target, uuid.uuid4()):
            _refused(constraint, lambda s=sql, v=value, r=row: _sql(s, [v, r]))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [row])
            assert cursor.fetchone()[0] != target


def test_a_membership_cannot_be_created_for_another_tenants_partner(acme, globex):
    user = factories.make_user()
    with acme.scope():
        _refused(
            "membership_partner_tenant_fk",
            lambda: Membership.objects.create(
                tenant=acme.tenant, user=user, role=Role.PARTNER_USER, partner=globex.partner
            ),
        )
        assert not Membership.objects.filter(user=user).exists()


# --- Deletes and moves of what is pointed at ------------------------------------------------


def test_what_the_ledger_points_at_cannot_be_deleted_or_moved(acme, globex, ledgers):
    """Raw SQL, past Django's PROTECT: the database refuses on its own."""
    own, _foreign = ledgers
    deal, entry = own["deal"], own["entry"]
    with acme.scope():
        _sql(
            "DELETE FROM dealreg_dealregistration_product_lines WHERE dealregistration_id = %s",
            [deal.pk],
        )
        refused = [
            ("DELETE FROM dealreg_dealregistration WHERE id = %s", [deal.pk]),
            ("DELETE FROM partners_partner WHERE id = %s", [entry.partner_id]),
            ("DELETE FROM incentives_payoutrun WHERE id = %s", [own["run"].pk]),
            (
                "UPDATE dealreg_dealregistration SET tenant_id = %s WHERE id = %s",
                [globex.tenant.pk, deal.pk],
            ),
            (
                "UPDATE partners_partner SET tenant_id = %s WHERE id = %s",
                [globex.tenant.pk, entry.partner_id],
            ),
        ]
        LedgerEntry.objects.create(
            **{
                **{
                    f.attname: getattr(entry, f.attname)
                    for f in LedgerEntry._meta.concrete_fields
                    if f.attname != "id"
                },
                "idempotency_key": "test:on-the-run",
                "payout_run_id": own["run"].pk,
            }
        )
        for sql, params in refused:
            _refused("_tenant_fk", lambda s=sql, p=params: _sql(s, p))
        assert DealRegistration.objects.filter(pk=deal.pk, tenant=acme.tenant).exists()
        assert Partner.objects.filter(pk=entry.partner_id, tenant=acme.tenant).exists()


def test_a_deal_with_only_an_accrual_state_cannot_be_deleted_behind_djangos_back(acme):
    with acme.scope():
        deal = make_won_deal(acme, "100", close_date=CLOSED)
        ledger.sync_deal(deal)  # no plan: no entry, but the deal is marked synced
        assert DealAccrualState.objects.filter(registration=deal).exists()
        assert not LedgerEntry.objects.exists()
        deal.product_lines.clear()
        _refused(
            "accrualstate_registration_tenant_fk",
            lambda: _sql("DELETE FROM dealreg_dealregistration WHERE id = %s", [deal.pk]),
        )
        # Through Django the state goes with the deal (CASCADE), as declared.
        deal.delete()
        _checked()
        assert not DealAccrualState.objects.filter(registration_id=deal.pk).exists()


def test_django_on_delete_still_decides_protect_and_cascade(acme, ledgers):
    own, _ = ledgers
    with acme.scope():
        with pytest.raises(ProtectedError):
            Partner.objects.get(pk=own["entry"].partner_id).delete()
        # A partner nothing protects goes with its contacts (CASCADE).
        loner = factories.make_partner(acme.tenant, "Loner Ltd", tier=acme.partner.tier)
        contact = factories.make_contact(loner)
        loner.delete()
        _checked()
        assert not Contact.objects.filter(pk=contact.pk).exists()


# --- Isolation levels and races -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_references_are_checked_at_every_isolation_level(acme, globex):
    """0004's triggers refused to run outside READ COMMITTED; keys do not."""
    with globex.scope():
        foreign = make_won_deal(globex, "100", close_date=CLOSED)
    with acme.scope():
        make_plan(acme)
        (entry,) = ledger.sync_deal(make_won_deal(acme, "100", close_date=CLOSED))
        for level in ("REPEATABLE READ", "SERIALIZABLE"):
            with transaction.atomic():
                _sql(f"SET TRANSACTION ISOLATION LEVEL {level}", [])
                _insert_like(entry)  # accepted: committed below
            with (
                pytest.raises(IntegrityError, match="ledgerentry_registration_tenant_fk"),
                transaction.atomic(),
            ):
                _sql(f"SET TRANSACTION ISOLATION LEVEL {level}", [])
                _insert_like(entry, registration_id=foreign.pk)
        assert LedgerEntry.objects.count() == 3
        assert not LedgerEntry.objects.filter(registration_id=foreign.pk).exists()


HOLD = 1.0  # seconds the first transaction stays open after its write


def _race(world, first, second):
    """Run ``first`` in a transaction that stays open ``HOLD`` seconds after
    it wrote, and ``second`` on another connection once ``first`` wrote;
    return their outcomes ("ok" or the exception)."""
    wrote = threading.Event()
    outcomes: dict = {}

    def run(name, call, before=None, after=None):
        try:
            if before is not None:
                assert before.wait(30), "the first transaction never wrote"
            with world.scope(), transaction.atomic():
                call()
                if after is not None:
                    after.set()
                    time.sleep(HOLD)
            outcomes[name] = "ok"
        except Exception as error:
            outcomes[name] = error
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
    return outcomes["first"], outcomes["second"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delete_first", [False, True], ids=["reference-first", "delete-first"])
def test_a_reference_and_a_delete_racing_never_leave_a_dangling_entry(acme, delete_first):
    """Whichever order they run in, one of them fails and the ledger never
    points at a deleted deal (PostgreSQL's foreign keys lock the row pointed
    at when they check)."""
    with acme.scope():
        make_plan(acme)
        (entry,) = ledger.sync_deal(make_won_deal(acme, "100", close_date=CLOSED))
        target = make_won_deal(acme, "200", close_date=CLOSED)

    def insert():
        _insert_like(entry, registration_id=target.pk)

    def delete():
        _sql(
            "DELETE FROM dealreg_dealregistration_product_lines WHERE dealregistration_id = %s",
            [target.pk],
        )
        _sql("DELETE FROM dealreg_dealregistration WHERE id = %s", [target.pk])

    calls = (delete, insert) if delete_first else (insert, delete)
    outcomes = _race(acme, *calls)
    assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
    (failure,) = [o for o in outcomes if o != "ok"]
    assert isinstance(failure, IntegrityError), failure
    with acme.scope():
        kept = DealRegistration.objects.filter(pk=target.pk).exists()
        entries = LedgerEntry.objects.filter(registration_id=target.pk).count()
    assert entries == (1 if kept else 0)
