"""The tier benchmark's one-SQL-query recomputation (``bench.tiers_sql``,
``make bench-tiers``) agrees with the evaluation on a tiny world whose
partners sit on the criteria's edges: exactly at a threshold, a
certification expiring that day, a person no longer active, a win in EUR
(converted) and one in a currency without a rate (left out), a reversed
win, an agreement never accepted, one for another partner type, a plan in
progress, a health score. When the criteria code changes, this keeps the
benchmark's independent recomputation honest (mismatches=0)."""

import datetime as dt

import pytest
import time_machine

from bench.tiers_sql import mismatches, qualifying_tiers
from dealreg.models import DealRegistration
from onboarding.models import Acceptance, Agreement, AgreementVersion, Plan, TrainingRecord
from partners.models import Partner
from prm.tenancy.roles import Role
from program.evaluation import Trigger, evaluate, evaluated, ladder
from program.figures import measure
from program.models import TierStanding
from reporting.models import HealthScore
from tests import factories
from tests.onboarding import builders_training as tb

from . import builders as b
from .builders import TODAY

pytestmark = pytest.mark.django_db
Kind = b.Kind


@pytest.fixture
def world(acme):
    with acme.scope(), time_machine.travel(dt.datetime(2026, 6, 15, 16, tzinfo=dt.UTC), tick=False):
        yield acme


def person(world, partner, *, active=True):
    member = factories.make_member(world.tenant, Role.PARTNER_USER, partner=partner)
    if not active:
        member.is_active = False
        member.save(update_fields=["is_active"])
    return member


def certify(world, partner, cert, *, expires, active=True):
    TrainingRecord.objects.create(
        tenant=world.tenant,
        partner=partner,
        membership=person(world, partner, active=active),
        certification=cert,
        completed_on=dt.date(2025, 1, 10),
        expires_on=expires,
        source=TrainingRecord.Source.STAFF,
    )


def accept(world, partner, version):
    Acceptance.objects.create(
        tenant=world.tenant,
        version=version,
        partner=partner,
        user=world[Role.PARTNER_ADMIN].user,
        typed_name="Pat Admin",
        content_sha256="a" * 64,
    )


def test_the_one_query_agrees_with_the_evaluation(world):
    tiers = b.ladder(world)
    ce = tb.certification(world, "ce", "Cloud Engineer", functions=["technical"])
    sp = tb.certification(world, "sp", "Sales Pro", years=1, functions=["sales"])
    b.version(
        world,
        {
            tiers["Silver"]: (
                1,
                [
                    (Kind.WON_REVENUE, "1000", True, None),
                    (Kind.APPROVED, "2", False, None),
                    (Kind.PLAN, "0", False, None),
                ],
            ),
            tiers["Gold"]: (
                1,
                [
                    (Kind.WON_REVENUE, "5000", True, None),
                    (Kind.AGREEMENTS, "0", True, None),
                    (Kind.CERTIFIED, "2", True, ce),
                    (Kind.APPROVED, "3", False, None),
                    (Kind.CERTIFIED, "1", False, sp),
                ],
            ),
            tiers["Platinum"]: (
                0,
                [
                    (Kind.WON_REVENUE, "20000", True, None),
                    (Kind.HEALTH, "70", True, None),
                    (Kind.AGREEMENTS, "0", True, None),
                ],
            ),
        },
    )
    b.rate(world, "EUR", "1.20000000", dt.date(2026, 1, 1))
    b.rate(world, "EUR", "9.00000000", dt.date(2026, 6, 16))  # not yet in force
    terms = Agreement.objects.create(tenant=world.tenant, title="Program terms")
    v1 = AgreementVersion.objects.create(
        tenant=world.tenant,
        agreement=terms,
        number=1,
        body="Terms.",
        effective_on=dt.date(2025, 1, 1),
        content_sha256="1" * 64,
    )
    msp_only = Agreement.objects.create(
        tenant=world.tenant, title="MSP terms", partner_types=[Partner.Type.MSP]
    )
    AgreementVersion.objects.create(
        tenant=world.tenant,
        agreement=msp_only,
        number=1,
        body="MSP.",
        effective_on=dt.date(2025, 1, 1),
        content_sha256="2" * 64,
    )
    make = lambda name: factories.make_partner(world.tenant, name, tier=tiers["Silver"])  # noqa: E731
    expected = {}

    # Exactly at Gold's revenue, two engineers (one expiring tomorrow).
    gold = make("Exactly Gold")
    for amount in ("2000.00", "2000.00", "1000.00"):
        b.win(world, gold, amount, on=TODAY)
    certify(world, gold, ce, expires=TODAY + dt.timedelta(days=1))
    certify(world, gold, ce, expires=None)
    accept(world, gold, v1)
    expected[gold.pk] = "Gold"

    # The same, but one certification expires today: Silver.
    expired = make("Expired Today")
    for amount in ("2000.00", "2000.00", "1000.00"):
        b.win(world, expired, amount, on=TODAY)
    certify(world, expired, ce, expires=TODAY)
    certify(world, expired, ce, expires=None)
    certify(world, expired, sp, expires=None, active=False)  # an inactive person: not counted
    accept(world, expired, v1)
    expected[expired.pk] = "Silver"

    # 900 EUR at 1.2 is 1,080: Silver (no plan counts toward the minimum).
    euro = make("Euro Seller")
    b.win(world, euro, "900.00", on=dt.date(2026, 3, 1), currency="EUR")
    expected[euro.pk] = "Silver"

    # A win without a rate is left out; 500 USD is short of 1,000.
    yen = make("Yen Seller")
    b.win(world, yen, "5000000.00", on=dt.date(2026, 3, 1), currency="JPY")
    b.win(world, yen, "500.00", on=dt.date(2026, 3, 1))
    expected[yen.pk] = "Registered"

    # A reversed win does not count; a cent short; a plan in progress.
    reversed_ = make("Reversed Win")
    b.win(world, reversed_, "3000.00", on=TODAY, status=DealRegistration.Status.REVERSED)
    b.win(world, reversed_, "999.99", on=TODAY)
    Plan.objects.create(tenant=world.tenant, partner=reversed_, name="Onboarding", target_on=TODAY)
    expected[reversed_.pk] = "Registered"

    # Platinum: revenue, a health score, the agreement accepted.
    platinum = make("Platinum Partner")
    b.win(world, platinum, "25000.00", on=dt.date(2025, 6, 16))  # the first day counted
    HealthScore.objects.create(
        tenant=world.tenant, partner=platinum, day=TODAY - dt.timedelta(days=3), score=80
    )
    accept(world, platinum, v1)
    expected[platinum.pk] = "Platinum"

    # Gold's figures, but the agreement never accepted: Silver.
    held = make("Never Accepted")
    b.win(world, held, "9000.00", on=TODAY)
    certify(world, held, ce, expires=None)
    certify(world, held, ce, expires=None)
    expected[held.pk] = "Silver"

    evaluate(world.tenant, trigger=Trigger.ON_DEMAND)

    by_sql = qualifying_tiers(world.tenant, TODAY)
    names = {t.pk: t.name for t in tiers.values()}
    assert {pk: names[by_sql[pk]] for pk in expected} == expected
    assert mismatches(world.tenant, TODAY) == []
    # The world's own partners (nothing won) and every standing counted.
    assert names[by_sql[world.partner.pk]] == "Registered"
    assert TierStanding.objects.count() == len(by_sql)

    # One partner's figures (its page: the agreements checked with the portal
    # gate's query) agree with those of the evaluation over every partner.
    everyone = measure(world.tenant, TODAY, evaluated(world.tenant), ladder(world.tenant).needs)
    for one in (gold, held, euro, [gold, held, euro, yen]):
        few = one if isinstance(one, list) else [one]
        for ids in (few, [p.pk for p in few]):
            mine = measure(world.tenant, TODAY, ids, ladder(world.tenant).needs)
            assert all(mine[p.pk] == everyone[p.pk] for p in few)
    assert not everyone[held.pk].agreements and everyone[gold.pk].agreements

    # A standing that disagrees is reported.
    TierStanding.objects.filter(partner=gold).update(qualifying_tier=tiers["Silver"])
    assert mismatches(world.tenant, TODAY) == [(gold.pk, tiers["Silver"].pk, tiers["Gold"].pk)]
