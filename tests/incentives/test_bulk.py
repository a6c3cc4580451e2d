"""The bulk accrual path writes what ledger.sync_deal writes deal by deal.

Entries cannot be deleted (append-only), so the comparison runs on two
tenants with identical data: acme is accrued by ``sync_deal`` one deal at a
time in (close date, created_at, id) order, globex by ``bulk.accrue_won_deals``;
their entries must agree field for field once ids are mapped to names."""

import contextlib
import random
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from dealreg.models import DealRegistration, ProductLine
from incentives import bulk, bulk_copy, ledger
from incentives.models import (
    DealAccrualState,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
)
from partners.models import Partner, Region, Tier, TierChange
from partners.tiers import Reason, set_tier
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan

NOW = datetime(2026, 1, 20, 15, 30, tzinfo=UTC)
RateType = PlanVersion.RateType
Status = DealRegistration.Status

# (name, type, tier, region code or None)
PARTNERS = [
    ("Bulk Reseller Gold", Partner.Type.RESELLER, "Gold", "na"),
    ("Bulk Distributor Silver", Partner.Type.DISTRIBUTOR, "Silver", "emea"),
    ("Bulk Msp Gold", Partner.Type.MSP, "Gold", None),
    ("Bulk Referral Silver", Partner.Type.REFERRAL, "Silver", "na"),
]
PRODUCTS = [("Firewall", "fw"), ("Storage", "st"), ("Network", "nw")]
# (index in the partners of ``build``, tier moved to, from): the distributor
# moves up mid-quarter, the MSP down mid-quarter.
TIER_MOVES = [(2, "Gold", date(2025, 5, 15)), (3, "Silver", date(2025, 8, 12))]


def deal_specs(count: int, seed: int = 7) -> list[dict]:
    """The same deals for both tenants: partners, amounts, currencies, close
    dates (with ties) and creation times that are not in close-date order."""
    rnd = random.Random(seed)
    created = list(range(count))
    rnd.shuffle(created)
    specs = []
    for i in range(count):
        currency = rnd.choice(["USD"] * 6 + ["EUR", "EUR", "GBP"])
        status = Status.WON if rnd.random() < 0.93 else rnd.choice([Status.LOST, Status.REVERSED])
        amount = Decimal(rnd.randrange(0, 6_000_000)) / 100 if rnd.random() > 0.01 else Decimal(0)
        specs.append(
            {
                "code": f"DR-B{i:05d}",
                "partner": rnd.randrange(len(PARTNERS) + 1),  # 0: the persona partner
                "amount": amount.quantize(Decimal("0.01")),
                "currency": currency,
                "close": date(2024, 11, 1) + timedelta(days=rnd.randrange(0, 430)),
                "created": NOW - timedelta(days=400) + timedelta(minutes=created[i]),
                "products": rnd.sample(range(len(PRODUCTS)), rnd.randrange(1, 3)),
                "status": status,
            }
        )
    # A deal in a currency without any rate: no entries, a recorded problem.
    specs.append(
        {
            **specs[0],
            "code": "DR-BNORATE",
            "currency": "JPY",
            "amount": Decimal(5000),
            "status": Status.WON,
        }
    )
    return specs


def build(world, specs) -> dict:
    """Partners, product lines, rates, plans and deals, identically per tenant."""
    tenant = world.tenant
    tiers = {t.name: t for t in Tier.objects.all()}
    regions = {r.code: r for r in Region.objects.all()}
    regions["emea"] = factories.make_region(tenant, "emea", countries=("DE", "FR"))
    partners = [world.partner]
    for name, kind, tier, region in PARTNERS:
        partners.append(
            factories.make_partner(
                tenant,
                name,
                tier=tiers[tier],
                partner_type=kind,
                region=regions.get(region),
                website=f"https://{name.lower().replace(' ', '-')}.{tenant.slug}.test",
            )
        )
    # Two partners change tier in the middle of the deals' dates (tiers are
    # effective-dated: the close date's tier decides), inside a quarter of
    # the order-dependent plans.
    TierChange.objects.update(effective_on=date(2024, 1, 1))  # rows from the real 'now'
    for index, tier, day in TIER_MOVES:
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        set_tier(partners[index], tiers[tier], by=None, reason=Reason.MANUAL, now=at)
    products = [
        ProductLine.objects.create(tenant=tenant, name=name, code=code) for name, code in PRODUCTS
    ]
    for currency, valid_from, rate in (
        ("EUR", date(2024, 1, 1), "1.0837"),
        ("EUR", date(2025, 4, 1), "1.10125"),
        ("EUR", date(2025, 9, 15), "1.06333333"),
        ("GBP", date(2024, 6, 1), "1.2701"),
    ):
        ExchangeRate.objects.create(
            tenant=tenant, currency=currency, valid_from=valid_from, rate=Decimal(rate)
        )
    IncentiveSettings.objects.filter(pk=IncentiveSettings.for_tenant(tenant).pk).update(
        holding_days=45
    )
    versions = [
        make_plan(world, name="Percent", rate_percent=Decimal("8.5")),
        make_plan(
            world,
            name="Fixed resellers",
            rate_type=RateType.FIXED,
            fixed_amount=Decimal("150"),
            partner_types=[Partner.Type.RESELLER, Partner.Type.MSP],
        ),
        make_plan(
            world,
            name="Whole brackets silver",
            rate_type=RateType.BRACKETS_WHOLE,
            brackets=[("0", "2"), ("5000", "4"), ("20000", "6.25")],
            tiers=[tiers["Silver"]],
        ),
        make_plan(
            world,
            name="Marginal brackets na",
            rate_type=RateType.BRACKETS_MARGINAL,
            brackets=[("1000", "3"), ("10000", "5.5"), ("35000", "7")],
            regions=[regions["na"]],
        ),
        make_plan(world, name="Capped", rate_percent=Decimal("12"), cap_per_deal=Decimal("800")),
        make_plan(
            world,
            name="Storage spiff",
            kind=Plan.Kind.SPIFF,
            rate_type=RateType.FIXED,
            fixed_amount=Decimal("250"),
            product_lines=[products[1]],
            effective_from=date(2025, 3, 1),
            effective_to=date(2025, 6, 30),
        ),
        make_plan(
            world,
            name="Accelerated",
            rate_percent=Decimal("5"),
            quota=Decimal("60000"),
            accelerator=Decimal("1.5"),
            period="quarter",
        ),
        make_plan(
            world,
            name="Monthly cap",
            rate_percent=Decimal("10"),
            cap_per_period=Decimal("2500"),
            period="month",
        ),
        make_plan(
            world,
            name="Accelerated capped",
            rate_type=RateType.BRACKETS_MARGINAL,
            brackets=[("0", "3"), ("25000", "4")],
            quota=Decimal("40000"),
            accelerator=Decimal("2"),
            cap_per_period=Decimal("6000"),
            period="quarter",
            tiers=[tiers["Gold"]],
        ),
        # Produce nothing: a draft, and a plan made inactive.
        make_plan(world, name="Draft", rate_percent=Decimal("50"), publish=False),
    ]
    inactive = make_plan(world, name="Inactive", rate_percent=Decimal("50"))
    Plan.objects.filter(pk=inactive.plan_id).update(is_active=False)
    # Names COPY must escape (tab, backslash, newline) and plain ones.
    names = ["Customer\t{} \\ Ltd", "Customer {} Ltd", "Customer\r\n{}"]
    for i, spec in enumerate(specs):
        partner = partners[spec["partner"]]
        registration = DealRegistration.objects.create(
            tenant=tenant,
            code=spec["code"],
            partner=partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name=names[i % len(names)].format(spec["code"]),
            customer_name_normalized="customer",
            customer_country="US",
            estimated_value=spec["amount"],
            currency=spec["currency"],
            expected_close_date=spec["close"],
            status=spec["status"],
            won_amount=spec["amount"],
            won_currency=spec["currency"],
            won_close_date=spec["close"],
            created_at=spec["created"],
        )
        registration.product_lines.set([products[i] for i in spec["products"]])
    return {"versions": versions}


def in_order():
    return DealRegistration.objects.filter(status=Status.WON).order_by(
        "won_close_date", "created_at", "id"
    )


def sync_one_by_one(registrations, now=NOW) -> None:
    for registration in registrations:
        try:
            ledger.sync_deal(registration, now=now)
        except ledger.NoRate as problem:
            ledger.record_problem(registration, str(problem))


def snapshot() -> list[tuple]:
    """Every entry, with ids replaced by what they name (the persona
    partner's name without its tenant's)."""
    codes = dict(DealRegistration.objects.values_list("id", "code"))
    names = {
        pk: name.replace("Acme ", "").replace("Globex ", "")
        for pk, name in Partner.objects.values_list("id", "name")
    }
    plans_by_version = dict(PlanVersion.objects.values_list("id", "plan__name"))
    rows = []
    for e in LedgerEntry.objects.all():
        assert e.checksum == e.compute_checksum()
        key = e.idempotency_key.replace(str(e.registration_id), codes[e.registration_id])
        key = key.replace(str(e.plan_version_id), plans_by_version[e.plan_version_id])
        rows.append(
            (
                codes[e.registration_id],
                plans_by_version[e.plan_version_id],
                names[e.partner_id],
                e.kind,
                e.amount,
                e.currency,
                e.fx_rate,
                e.amount_base,
                e.base_currency,
                e.source,
                e.effective_date,
                e.available_on,
                e.period_start,
                e.statement_start,
                e.basis_amount,
                e.basis_currency,
                e.description,
                key,
                e.created_at,
            )
        )
    return sorted(rows)


def states() -> dict:
    return {
        code: (synced_at is not None, problem)
        for code, synced_at, problem in DealAccrualState.objects.values_list(
            "registration__code", "synced_at", "problem"
        )
    }


# Committed data: the bulk path's own writer connections must see it.
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("inline", [True, False], ids=["in-transaction", "writers"])
def test_bulk_writes_what_sync_deal_writes(acme, globex, inline):
    """Inside a transaction the bulk path writes on the caller's connection;
    outside, through writer connections of its own (three here), each
    partner's entries in one of them."""
    specs = deal_specs(320)
    for world in (acme, globex):
        with world.scope():
            build(world, specs)
            # Some deals were synced before: their entries count toward the
            # order-dependent rules' running totals, and they lack the plan
            # published afterwards.
            ledger_before = [r for r in in_order() if r.code in {s["code"] for s in specs[::9]}]
            sync_one_by_one(ledger_before, now=NOW - timedelta(days=20))
            make_plan(world, name="Late", rate_percent=Decimal("1.5"))
    with acme.scope():
        before = states()
        sync_one_by_one(in_order())
        expected = snapshot()
        expected_states = states()
        assert bulk.accrue_won_deals(acme.tenant, now=NOW) == 0  # in line already
    with globex.scope():
        stats = {}
        with transaction.atomic() if inline else contextlib.nullcontext():
            written = bulk.accrue_won_deals(
                globex.tenant, batch_size=37, now=NOW, workers=3, stats=stats
            )
        got = snapshot()
        got_states = states()
        assert bulk.accrue_won_deals(globex.tenant, now=NOW + timedelta(hours=1)) == 0
        assert len(snapshot()) == len(got)
        ids = list(LedgerEntry.objects.filter(created_via="accrue_won_deals").values_list("id"))
    presynced = sum(1 for row in expected if row[-1] != NOW)
    assert written == len(got) - presynced > 1000
    assert got == expected
    # Every plan kind, rule and currency is represented.
    plan_names = {row[1] for row in got}
    assert plan_names == {
        "Percent",
        "Fixed resellers",
        "Whole brackets silver",
        "Marginal brackets na",
        "Capped",
        "Storage spiff",
        "Accelerated",
        "Monthly cap",
        "Accelerated capped",
        "Late",
    }
    assert {row[5] for row in got} == {"USD", "EUR", "GBP"}
    # The partners that changed tier were paid by the tier of each close date.
    for name, only, before_move in (
        ("Bulk Distributor Silver", "Whole brackets silver", True),
        ("Bulk Distributor Silver", "Accelerated capped", False),
        ("Bulk Msp Gold", "Accelerated capped", True),
        ("Bulk Msp Gold", "Whole brackets silver", False),
    ):
        moved = TIER_MOVES[0 if name == "Bulk Distributor Silver" else 1][2]
        closes = [row[10] for row in got if row[2] == name and row[1] == only]
        assert closes and all((close < moved) == before_move for close in closes)
    # The caps and the accelerator did bite.
    assert any(row[1] == "Capped" and row[4] == Decimal("800") for row in got)
    monthly: dict = {}
    for row in got:
        if row[1] == "Monthly cap":
            monthly[(row[2], row[12])] = monthly.get((row[2], row[12]), 0) + row[7]
    assert max(monthly.values()) == Decimal("2500")
    # Registrations without entries before are marked synced, as sync_deal
    # marks them; the deal without a rate has the same problem recorded.
    fresh = {code for code in expected_states if code not in before}
    assert {c: got_states[c] for c in fresh} == {c: expected_states[c] for c in fresh}
    assert got_states["DR-BNORATE"] == (
        False,
        "No JPY exchange rate is in force on "
        f"{specs[0]['close']:%Y-%m-%d}: add one (valid from that date or earlier) "
        "under Incentives > Exchange rates.",
    )
    assert all(uuid.UUID(str(pk)).version == 7 for (pk,) in ids)
    assert (stats["deals"], stats["entries"], stats["problems"]) == (
        sum(1 for s in specs if s["status"] == Status.WON),
        written,
        1,
    )


def test_order_dependent_rules_follow_close_date_order(acme):
    """Two deals of one partner in one quarter: the later close date gets the
    accelerator, whichever was created (and registered) first."""
    with acme.scope():
        make_plan(
            acme,
            rate_percent=Decimal("10"),
            quota=Decimal("1000"),
            accelerator=Decimal("2"),
            period="quarter",
        )
        late = _deal(acme, "1000", date(2025, 5, 20))
        early = _deal(acme, "1000", date(2025, 4, 2))
        assert bulk.accrue_won_deals(acme.tenant, now=NOW) == 2
        amounts = dict(LedgerEntry.objects.values_list("registration_id", "amount"))
        assert amounts == {early.pk: Decimal("100.00"), late.pk: Decimal("200.00")}


def test_restricted_to_given_registrations_and_rate_added_later(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        one = _deal(acme, "100", date(2025, 5, 2))
        two = _deal(acme, "300", date(2025, 5, 3), currency="CHF")
        _deal(acme, "200", date(2025, 5, 4))
        assert bulk.accrue_won_deals(acme.tenant, registration_ids=[one.pk, two.pk], now=NOW) == 1
        assert list(LedgerEntry.objects.values_list("registration_id", flat=True)) == [one.pk]
        state = DealAccrualState.objects.get(registration=two)
        assert (state.synced_at, state.problem[:35]) == (
            None,
            "No CHF exchange rate is in force on",
        )
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="CHF", valid_from=date(2025, 1, 1), rate=Decimal("1.1")
        )
        assert bulk.accrue_won_deals(acme.tenant, now=NOW) == 2
        entry = LedgerEntry.objects.get(registration=two)
        assert (entry.amount, entry.currency, entry.amount_base) == (
            Decimal("30.00"),
            "CHF",
            Decimal("33.00"),
        )
        state.refresh_from_db()
        assert (state.synced_at, state.problem) == (NOW, "")


@pytest.mark.django_db(transaction=True)
def test_a_failing_writer_leaves_nothing_written(acme, monkeypatch):
    """Two writer connections, one per partner: when one fails, the other
    rolls back too, and the error reaches the caller."""
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        for partner in (acme.partner, acme.other_partner):
            for day in (2, 3):
                _deal(acme, "100", date(2025, 5, day), partner=partner)
        real = bulk_copy.write_chunk
        failing_partner = str(acme.other_partner.pk)

        def write(cursor, chunk, move, times):
            if any(failing_partner in line for line in chunk.entries):
                raise RuntimeError("disk full")
            return real(cursor, chunk, move, times)

        monkeypatch.setattr(bulk_copy, "write_chunk", write)
        with pytest.raises(RuntimeError, match="disk full"):
            bulk.accrue_won_deals(acme.tenant, workers=2, now=NOW)
        assert not LedgerEntry.objects.exists()
        assert not DealAccrualState.objects.exists()
        monkeypatch.setattr(bulk_copy, "write_chunk", real)
        assert bulk.accrue_won_deals(acme.tenant, workers=2, now=NOW) == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("inline", [False, True], ids=["writers", "inline"])
def test_a_deal_synced_during_the_run_is_kept_once(acme, monkeypatch, inline):
    """The sync task accrues one of the deals after the run read them: the
    direct COPY meets its entry, the run rolls back what it wrote and runs
    again through ON CONFLICT, keeping the sync's entry and writing every
    other entry once."""
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        IncentiveSettings.for_tenant(acme.tenant)  # committed, not created by the run
        deals = [_deal(acme, "100", date(2025, 5, day)) for day in (2, 3, 4)]
        real = bulk_copy.write_chunk
        modes, raced, failures = [], [], []

        def sync(registration_id):
            try:
                with acme.scope():
                    registration = DealRegistration.objects.get(pk=registration_id)
                    ledger.sync_deal(registration, now=NOW, via="raced sync")
            except Exception as error:
                failures.append(error)
            finally:
                connection.close()

        def write(cursor, chunk, move, times):
            modes.append(move["direct"])
            if not raced:
                # The registration of the chunk's second entry, committed
                # by another connection before this chunk is written.
                column = bulk_copy.ENTRY_COLUMNS.index("registration_id")
                raced.append(chunk.entries[1].split("\t")[column])
                racer = threading.Thread(target=sync, args=(raced[0],))
                racer.start()
                racer.join(30)
                assert not racer.is_alive(), "the sync waited for the run"
            return real(cursor, chunk, move, times)

        monkeypatch.setattr(bulk_copy, "write_chunk", write)
        with transaction.atomic() if inline else contextlib.nullcontext():
            written = bulk.accrue_won_deals(acme.tenant, now=NOW)
        assert failures == []
        assert modes == [True, False]
        assert written == 2
        entries = list(LedgerEntry.objects.values_list("registration_id", "created_via"))
        assert sorted(entries) == sorted(
            (deal.pk, "raced sync" if str(deal.pk) == raced[0] else "accrue_won_deals")
            for deal in deals
        )
        states = DealAccrualState.objects.values_list("registration_id", "synced_at", "problem")
        assert sorted(states) == sorted((deal.pk, NOW, "") for deal in deals)


def test_other_tenants_are_untouched(acme, globex):
    with globex.scope():
        make_plan(globex, rate_percent=Decimal("10"))
        _deal(globex, "100", date(2025, 5, 2))
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        _deal(acme, "100", date(2025, 5, 2))
        assert bulk.accrue_won_deals(acme.tenant, now=NOW) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM incentives_ledgerentry")
        assert cursor.fetchall() == [(acme.tenant.pk,)]


def test_batch_size_and_workers_must_be_positive(acme):
    with acme.scope(), pytest.raises(ValueError, match="batch_size must be at least 1"):
        bulk.accrue_won_deals(acme.tenant, batch_size=0)
    with acme.scope(), pytest.raises(ValueError, match="workers must be at least 1"):
        bulk.accrue_won_deals(acme.tenant, workers=0)


def test_command_backfills_one_tenant_or_all(acme, globex):
    for world in (acme, globex):
        with world.scope():
            make_plan(world, rate_percent=Decimal("10"))
            _deal(world, "100", date(2025, 5, 2))
    out = StringIO()
    call_command("accrue_won_deals", "--tenant", "acme", stdout=out)
    assert "acme: 1 entry written" in out.getvalue()
    out = StringIO()
    call_command("accrue_won_deals", stdout=out)
    assert "acme: 0 entries written" in out.getvalue()
    assert "globex: 1 entry written" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active tenant with slug “nope”"):
        call_command("accrue_won_deals", "--tenant", "nope")


def _deal(world, amount, close, currency="USD", partner=None):
    registration = DealRegistration.objects.create(
        tenant=world.tenant,
        partner=partner or world.partner,
        submitted_by=world[Role.PARTNER_USER].user,
        customer_name="Customer",
        customer_name_normalized="customer",
        customer_country="US",
        estimated_value=Decimal(amount),
        currency=currency,
        expected_close_date=close,
        status=Status.WON,
        won_amount=Decimal(amount),
        won_currency=currency,
        won_close_date=close,
    )
    return registration
