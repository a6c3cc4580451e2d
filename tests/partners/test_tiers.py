"""partners.tiers: the dated tier history and the tier held on a day."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from partners import tiers
from partners.models import TierChange
from partners.services import update_partner
from prm.tenancy.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ladder(in_acme):
    tenant = in_acme.tenant
    silver = factories.make_tier(tenant, "Silver-t", 20)
    gold = factories.make_tier(tenant, "Gold-t", 30)
    return silver, gold


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_a_new_partner_joins_at_its_tier(in_acme, ladder):
    silver, _ = ladder
    with time_machine.travel(_at(date(2026, 3, 1)), tick=False):
        partner = factories.make_partner(in_acme.tenant, tier=silver)
    (row,) = TierChange.objects.filter(partner=partner)
    assert (row.tier, row.previous, row.effective_on, row.reason) == (
        silver,
        None,
        date(2026, 3, 1),
        TierChange.Reason.JOINED,
    )
    # Before it joined, a partner held the tier it joined at.
    assert tiers.tier_on(partner, date(2025, 1, 1)) == silver


def test_tier_on_reads_the_row_in_force_that_day(in_acme, ladder):
    silver, gold = ladder
    ops = in_acme["ops_admin"].user
    with time_machine.travel(_at(date(2026, 3, 1)), tick=False):
        partner = factories.make_partner(in_acme.tenant, tier=silver)
    with time_machine.travel(_at(date(2026, 6, 10)), tick=False):
        tiers.set_tier(partner, gold, by=ops, reason=tiers.Reason.UPGRADE, note="Qualified")
    assert tiers.tier_on(partner, date(2026, 6, 9)) == silver
    assert tiers.tier_on(partner, date(2026, 6, 10)) == gold
    assert tiers.tier_on(partner, date(2027, 1, 1)) == gold
    partner.refresh_from_db()
    assert partner.tier == gold
    entry = AuditEntry.objects.get(action="partner.tier_changed")
    assert entry.data["reason"] == "upgrade"
    # Setting the tier it holds writes nothing.
    assert tiers.set_tier(partner, gold, by=ops, reason=tiers.Reason.MANUAL) is None
    assert TierChange.objects.filter(partner=partner).count() == 2


def test_the_days_last_change_holds(in_acme, ladder):
    silver, gold = ladder
    ops = in_acme["ops_admin"].user
    partner = factories.make_partner(in_acme.tenant, tier=silver)
    tiers.set_tier(partner, gold, by=ops, reason=tiers.Reason.MANUAL)
    tiers.set_tier(partner, silver, by=ops, reason=tiers.Reason.MANUAL)
    today = in_acme.tenant.local_today()
    assert tiers.tier_on(partner, today) == silver
    lines = tiers.timelines([partner])
    assert lines[partner.pk].on(today + timedelta(days=1)) == silver.pk


def test_changing_the_tier_in_the_directory_is_dated(in_acme, ladder):
    silver, gold = ladder
    ops = in_acme["ops_admin"].user
    partner = factories.make_partner(in_acme.tenant, tier=silver)
    update_partner(partner, by=ops, data={"tier": gold})
    update_partner(partner, by=ops, data={"phone": "+1 555 0100"})  # no tier change
    rows = list(TierChange.objects.filter(partner=partner).order_by("id"))
    assert [(r.reason, r.previous, r.tier) for r in rows] == [
        (TierChange.Reason.JOINED, None, silver),
        (TierChange.Reason.MANUAL, silver, gold),
    ]
    assert rows[1].by == ops


def test_a_tier_of_another_program_is_refused(in_acme, ladder, personas):
    silver, _ = ladder
    partner = factories.make_partner(in_acme.tenant, tier=silver)
    other = type(silver)(tenant=personas["globex"].tenant, name="X", rank=9)
    with pytest.raises(ValueError):
        tiers.set_tier(partner, other, by=None, reason=tiers.Reason.MANUAL)


def test_many_partners_in_one_query(in_acme, ladder, django_assert_num_queries):
    silver, gold = ladder
    partners = [factories.make_partner(in_acme.tenant, tier=silver) for _ in range(3)]
    tiers.set_tier(partners[0], gold, by=None, reason=tiers.Reason.MANUAL)
    with django_assert_num_queries(1):
        found = tiers.tier_ids_on(partners, in_acme.tenant.local_today())
    assert found == {partners[0].pk: gold.pk, partners[1].pk: silver.pk, partners[2].pk: silver.pk}
